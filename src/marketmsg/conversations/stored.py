"""The bytes of messages in the blob store: raw MIME and attached files (ADR 21).

Writing happens before the message's transaction (``put_raw``; files through ``uploads.store``).
Removing happens after the transaction that stops naming a blob: the change queues the name in
``BlobRelease`` and ``drain_releases`` deletes it once nothing names it any more. The same bytes
can be named by several rows (one mail to two recipients, the same file in two messages), so a
blob goes only when the last row lets go of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketmsg.blobs import store
from marketmsg.conversations.models import Attachment, BlobRelease, RawMime

log = logging.getLogger(__name__)


class NoRawMime(Exception):
    """The message has no raw MIME (written on the web or through the API), or it was removed."""


def put_raw(raw: bytes) -> str:
    """Write a mail's raw MIME before its transaction; returns the blob's name."""
    name, _digest = store.put(raw)
    return name


def raw_row(message_id: int) -> RawMime | None:
    return RawMime.objects.filter(message_id=message_id).first()


def raw_bytes(row: RawMime | None) -> bytes:
    """The whole raw mail (the worker parses it whole); NoRawMime or store.BlobMissing otherwise."""
    if row is None or row.removed_at is not None:
        raise NoRawMime()
    if row.data is not None:  # stored before the blob store; migrate-blobs moves it
        return bytes(row.data)
    return store.read(row.blob)


def raw_chunks(row: RawMime) -> Iterator[bytes]:
    """The raw mail as a stream, for the staff's view and the export."""
    if row.removed_at is not None:
        raise NoRawMime()
    if row.data is not None:
        yield bytes(row.data)
        return
    yield from store.chunks(row.blob)


def opened(attachment: Attachment) -> IO[bytes]:
    """The file as a stream (for FileResponse, which closes it); store.BlobMissing if it is gone."""
    try:
        return attachment.file.open("rb")  # type: ignore[return-value]
    except FileNotFoundError as error:
        raise store.BlobMissing(attachment.file.name) from error


def file_chunks(attachment: Attachment) -> Iterator[bytes]:
    with opened(attachment) as handle:
        while piece := handle.read(store.CHUNK):
            yield piece


def release(names: Iterable[str]) -> None:
    """Queue blobs a change in the current transaction stopped naming; they are removed after it
    commits (or by the next purge, if this process dies first)."""
    queued = [BlobRelease(name=name) for name in {n for n in names if n}]
    if not queued:
        return
    BlobRelease.objects.bulk_create(queued)
    transaction.on_commit(drain_releases)


def drain_releases(limit: int = 1000) -> int:
    """Delete queued blobs that no row names any more; returns how many blobs were deleted."""
    deleted = 0
    while True:
        batch = list(BlobRelease.objects.order_by("pk")[:limit])
        if not batch:
            return deleted
        names = {r.name for r in batch}
        for name in names - named(names):
            store.delete(name)
            deleted += 1
        BlobRelease.objects.filter(pk__in=[r.pk for r in batch]).delete()
        if len(batch) < limit:
            return deleted


def named(names: set[str]) -> set[str]:
    """Those of ``names`` that a raw MIME row or a file still in place names."""
    raws = RawMime.objects.filter(blob__in=names, removed_at__isnull=True)
    found = set(raws.values_list("blob", flat=True))
    found |= set(
        Attachment.objects.filter(file__in=names, removed_at__isnull=True).values_list("file", flat=True)
    )
    return found


@dataclass
class Sweep:
    looked_at: int = 0
    removed: int = 0
    bytes_named: int = 0


def sweep_orphans(days: int = 7, now: datetime | None = None) -> Sweep:
    """Remove blobs that no row names, written more than the grace period ago, in the day folders
    of the ``days`` days before that. Such blobs come from a transaction that failed after its
    blobs were written (a refused mail, a crash); a blob named again is rewritten, which makes it
    young, so it is not touched while the row naming it may still be committing."""
    now = now or timezone.now()
    cut = now - timedelta(seconds=settings.BLOB_SWEEP_GRACE)
    result = Sweep()
    for back in range(days + 1):
        folder = store.day_folder((cut - timedelta(days=back)).date())
        candidates: dict[str, datetime] = {}
        for name, modified in store.listing(folder):
            result.looked_at += 1
            if modified < cut:
                candidates[name] = modified
            if len(candidates) >= 1000:
                result.removed += _remove_unnamed(candidates, cut)
                candidates = {}
        result.removed += _remove_unnamed(candidates, cut)
    return result


def _remove_unnamed(candidates: dict[str, datetime], cut: datetime) -> int:
    removed = 0
    for name in set(candidates) - named(set(candidates)):
        if store.modified(name) >= cut:  # written again since the listing: a row may be naming it
            continue
        store.delete(name)
        log.info("removed blob %s: no row named it", name)
        removed += 1
    return removed
