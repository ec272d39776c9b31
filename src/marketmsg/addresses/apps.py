from django.apps import AppConfig


class AddressesConfig(AppConfig):
    name = "marketmsg.addresses"
    label = "addresses"
