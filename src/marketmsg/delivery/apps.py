from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "marketmsg.delivery"
    label = "delivery"
