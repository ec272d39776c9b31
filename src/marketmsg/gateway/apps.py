from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "marketmsg.gateway"
    label = "gateway"
