from django.apps import AppConfig


class LimitsConfig(AppConfig):
    name = "marketmsg.limits"
    label = "limits"
