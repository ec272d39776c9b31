from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    # The label stays "staff": the tables (staff_claim, staff_staffaccess, …) and the migration
    # history were written under it before the console had its own room.
    name = "marketmsg.console"
    label = "staff"
