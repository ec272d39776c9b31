from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "marketmsg.orders"
    label = "orders"
