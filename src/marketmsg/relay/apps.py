from django.apps import AppConfig


class RelayConfig(AppConfig):
    # No models: an app so that `marketmsg worker` (management/commands) is found.
    name = "marketmsg.relay"
    label = "relay"
