from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "marketmsg.sso"
    label = "sso"
    verbose_name = "Sign-in providers"
