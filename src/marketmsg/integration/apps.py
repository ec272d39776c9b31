from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "marketmsg.integration"
    label = "integration"
    verbose_name = "Marketplace integration"
    default_auto_field = "django.db.models.BigAutoField"
