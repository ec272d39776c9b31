from django.apps import AppConfig


class BlobsConfig(AppConfig):
    name = "marketmsg.blobs"
    label = "blobs"
    verbose_name = "Blob store"

    def ready(self) -> None:
        from marketmsg.blobs import checks  # noqa: F401 - registers the deployment checks
