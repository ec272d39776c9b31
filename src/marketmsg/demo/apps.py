from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "marketmsg.demo"
    label = "demo"
