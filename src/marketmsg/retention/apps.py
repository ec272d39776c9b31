from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "marketmsg.retention"
    label = "retention"
    verbose_name = "Retention and erasure"
