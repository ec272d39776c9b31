from django.apps import AppConfig


class OpsConfig(AppConfig):
    # No models: health, readiness and Prometheus endpoints, and the development mail catcher.
    name = "marketmsg.ops"
    label = "ops"
