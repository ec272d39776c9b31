from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "marketmsg.staff"
    label = "staff"
