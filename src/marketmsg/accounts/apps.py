from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "marketmsg.accounts"
    label = "accounts"
