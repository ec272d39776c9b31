from django.apps import AppConfig


class BlobsConfig(AppConfig):
    name = "marketmsg.blobs"
    label = "blobs"
    verbose_name = "Blob store"
