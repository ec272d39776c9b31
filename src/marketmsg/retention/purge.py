"""``marketmsg purge`` (daily): remove what has been kept for as long as the settings say, keep
what an open claim needs, and record what was removed (a PurgeRun row and a log line).

- raw MIME older than MARKETMSG_KEEP_RAW_MIME: the bytes leave the blob store; the message, its
  text and its place in the record stay (the raw hash is in the record).
- files older than MARKETMSG_KEEP_ATTACHMENTS: removed like a staff removal, the row saying why.
- message texts older than MARKETMSG_KEEP_MESSAGE_TEXT: redacted (retention.redaction).
- a conversation whose order has an open claim keeps everything until the claim is decided.
Then the blobs queued for removal and the orphan blobs of failed writes go (conversations.stored).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from marketmsg.conversations import stored
from marketmsg.conversations.models import Attachment, Message
from marketmsg.limits import shared as limits
from marketmsg.orders.models import Claim
from marketmsg.retention import redaction
from marketmsg.retention.models import PurgeRun

log = logging.getLogger(__name__)
BECAUSE = "retention"
BATCH = 500


def _under_claim() -> Q:
    """Messages of conversations whose order has an open claim."""
    return Q(conversation__order__claims__decision=Claim.Decision.OPEN)


Progress = Callable[[str, int], None]


def purge(now: datetime | None = None, progress: Progress = lambda _kind, _done: None) -> PurgeRun:
    now = now or timezone.now()
    run = PurgeRun.objects.create(
        started_at=now,
        settings={
            "keep_raw_mime_seconds": settings.KEEP_RAW_MIME,
            "keep_attachments_seconds": settings.KEEP_ATTACHMENTS,
            "keep_message_text_seconds": settings.KEEP_MESSAGE_TEXT,
        },
    )
    if settings.KEEP_RAW_MIME is not None:
        due = Message.objects.filter(
            created_at__lt=now - timedelta(seconds=settings.KEEP_RAW_MIME),
            raw__removed_at__isnull=True,
        )
        run.kept_for_claims += due.filter(_under_claim()).count()
        run.raw_mime = _in_batches(due.exclude(_under_claim()), lambda ids: _raw(ids, now), "raw", progress)
    if settings.KEEP_ATTACHMENTS is not None:
        due = Message.objects.filter(
            created_at__lt=now - timedelta(seconds=settings.KEEP_ATTACHMENTS),
            attachments__removed_at__isnull=True,
        ).distinct()
        run.kept_for_claims += due.filter(_under_claim()).count()
        run.attachments = _in_batches(
            due.exclude(_under_claim()), lambda ids: _files(ids, now), "files", progress
        )
    if settings.KEEP_MESSAGE_TEXT is not None:
        due = Message.objects.filter(
            created_at__lt=now - timedelta(seconds=settings.KEEP_MESSAGE_TEXT), redacted_at__isnull=True
        )
        run.kept_for_claims += due.filter(_under_claim()).count()
        run.message_texts = _in_batches(
            due.exclude(_under_claim()), lambda ids: redaction.redact(ids, BECAUSE, now)[0], "texts", progress
        )
    run.blobs_deleted = stored.drain_releases()
    run.orphans_deleted = stored.sweep_orphans(now=now).removed
    # Rate-limit buckets name client addresses: kept no longer than a limit needs them.
    limits.Buckets.sweep(max(86_400.0, 2.0 * settings.SIGNIN_WINDOW_SECONDS))
    run.finished_at = timezone.now()
    run.save()
    log.info(
        "purge: %d raw MIME, %d file(s), %d text(s) removed; %d kept for open claims; "
        "%d blob(s) and %d orphan(s) deleted",
        run.raw_mime,
        run.attachments,
        run.message_texts,
        run.kept_for_claims,
        run.blobs_deleted,
        run.orphans_deleted,
    )
    return run


def _in_batches(
    due: QuerySet[Message], apply: Callable[[list[int]], int], kind: str, progress: Progress
) -> int:
    """Each batch in its own transaction: a long purge holds no lock for long and resumes where an
    interrupted one stopped (what was done is no longer due)."""
    done, last = 0, 0
    while True:
        ids = list(due.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            return done
        last = ids[-1]
        with transaction.atomic():
            done += apply(ids)
        progress(kind, done)


def _raw(ids: list[int], now: datetime) -> int:
    return redaction.remove_raw(ids, BECAUSE, now)


def _files(ids: list[int], now: datetime) -> int:
    return redaction.remove_files(Attachment.objects.filter(message_id__in=ids), BECAUSE, now)
