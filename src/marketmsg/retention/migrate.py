"""``marketmsg migrate-blobs``: raw MIME kept in the database and files kept under MEDIA_ROOT by
earlier versions move into the blob store (ADR 21).

Each batch is one transaction: the blobs are written first, read back and hashed against the
digest the message recorded, and only then does the row name the blob. An interrupted run is
resumed by running it again (moved rows are no longer selected). A blob whose bytes do not match
the recorded digest is not moved: it is reported and the row keeps its bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files.storage import storages
from django.db import transaction
from django.db.models import QuerySet

from marketmsg.blobs import store
from marketmsg.conversations.models import Attachment, Message, RawMime

BATCH = 200


@dataclass
class Moved:
    raw_mime: int = 0
    files: int = 0
    bytes: int = 0
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def to_move() -> tuple[int, int]:
    """(raw MIME rows, files) still outside the store."""
    raws = RawMime.objects.filter(data__isnull=False, removed_at__isnull=True).count()
    files = _legacy_files().count()
    return raws, files


def _legacy_files() -> QuerySet[Attachment]:
    present = Attachment.objects.filter(removed_at__isnull=True).exclude(file="")
    return present.exclude(file__startswith="blobs/")


def migrate(progress: Callable[[int], None] = lambda done: None) -> Moved:
    moved = Moved()
    last = 0
    while True:
        batch = list(
            RawMime.objects.filter(data__isnull=False, removed_at__isnull=True, message_id__gt=last)
            .order_by("message_id")
            .values_list("message_id", flat=True)[:BATCH]
        )
        if not batch:
            break
        last = batch[-1]
        _move_raw(batch, moved)
        progress(moved.raw_mime + moved.files + len(moved.mismatched))
    last = 0
    while True:
        files = list(_legacy_files().filter(pk__gt=last).order_by("pk")[:BATCH])
        if not files:
            break
        last = files[-1].pk
        _move_files(files, moved)
        progress(moved.raw_mime + moved.files + len(moved.mismatched) + len(moved.missing))
    return moved


def _move_raw(message_ids: list[int], moved: Moved) -> None:
    messages = dict(Message.objects.filter(pk__in=message_ids).values_list("pk", "created_at"))
    digests = dict(Message.objects.filter(pk__in=message_ids).values_list("pk", "raw_sha256"))
    with transaction.atomic():
        for row in RawMime.objects.select_for_update().filter(message_id__in=message_ids, data__isnull=False):
            data = bytes(row.data or b"")
            expected = digests[row.message_id]
            if hashlib.sha256(data).hexdigest() != expected:
                moved.mismatched.append(f"raw MIME of message {row.message_id}")
                continue
            name = store.put_file(io.BytesIO(data), expected, messages[row.message_id].date())
            if store.digest_of(name) != expected:  # read back what the store holds
                moved.mismatched.append(f"raw MIME of message {row.message_id} (as stored)")
                continue
            row.blob, row.data = name, None
            row.save(update_fields=["blob", "data"])
            moved.raw_mime += 1
            moved.bytes += len(data)


def _move_files(files: list[Attachment], moved: Moved) -> None:
    legacy = storages["default"]
    old_names: list[str] = []
    with transaction.atomic():
        for attachment in files:
            old = attachment.file.name
            try:
                handle = legacy.open(old, "rb")
            except FileNotFoundError:
                moved.missing.append(f"file {attachment.pk} ({old})")
                continue
            with handle:
                name = store.put_file(handle, attachment.sha256, attachment.created_at.date())
            if store.digest_of(name) != attachment.sha256:
                moved.mismatched.append(f"file {attachment.pk} ({old})")
                continue
            Attachment.objects.filter(pk=attachment.pk).update(file=name)
            old_names.append(old)
            moved.files += 1
            moved.bytes += attachment.size

        def remove_old() -> None:  # once the rows name the blobs; a crash before leaves copies only
            for old in old_names:
                with contextlib.suppress(OSError):
                    legacy.delete(old)

        transaction.on_commit(remove_old)
