from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "marketmsg.conversations"
    label = "conversations"
