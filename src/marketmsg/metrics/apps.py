from django.apps import AppConfig


class MetricsConfig(AppConfig):
    # No models (the tally's tables belong to conversations, written with the messages): an app so
    # that `marketmsg metrics` (management/commands) is found.
    name = "marketmsg.metrics"
    label = "metrics"
