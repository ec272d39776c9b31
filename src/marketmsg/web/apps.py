from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "marketmsg.web"
    label = "web"
