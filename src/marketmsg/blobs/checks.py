"""`marketmsg check --deploy`: what would break when a second machine joins (ADR 21)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.db import connection


@register(Tags.compatibility, deploy=True)
def several_machines(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if connection.vendor != "postgresql":
        return []  # SQLite is one machine: its local disk is fine
    found = []
    if settings.BLOB_STORE == "file":
        found.append(
            Warning(
                "Raw MIME and files are kept on this machine's disk (MARKETMSG_BLOB_STORE=file).",
                hint="With more than one machine set MARKETMSG_BLOB_STORE=s3 and MARKETMSG_S3_BUCKET, "
                "then run `marketmsg migrate-blobs`.",
                id="marketmsg.W001",
            )
        )
    if not settings.SECRET_KEY_CONFIGURED:
        found.append(
            Warning(
                "The secret key comes from a file in this machine's data directory.",
                hint="Set the same MARKETMSG_SECRET_KEY on every machine: sessions, VERP addresses and "
                "export signatures need it.",
                id="marketmsg.W002",
            )
        )
    return found
