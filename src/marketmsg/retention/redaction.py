"""Removing what a message said while its place in the record stays provable (ADR 22).

A redacted message keeps its ``content_digest`` and ``record_hash``; its subject, text, HTML,
sender address, the guideline excerpts and its files' names go (the digest covers them), its raw
MIME and files leave the blob store. A conversation sealed in the first form (before digests) is
re-sealed in the digest form first, after its chain was checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from marketmsg.conversations import record, stored
from marketmsg.conversations.models import Attachment, Message, RawMime


class RecordBroken(Exception):
    """The conversation's chain did not verify before re-sealing: it is left as it is."""


def reseal(conversation_id: int) -> bool:
    """Give first-form messages of the conversation their digest and re-link the chain in the
    digest form. Returns whether anything changed; RecordBroken if the old chain did not hold."""
    messages = list(
        Message.objects.filter(conversation_id=conversation_id).order_by("id").prefetch_related("attachments")
    )
    if all(m.content_digest or not m.record_hash for m in messages):
        return False
    previous, relinked = "", ""
    for message in messages:
        if not message.record_hash:  # stored before the record existed: never sealed
            continue
        files = record.attachments_of(sorted(message.attachments.all(), key=_pk))
        content = record.Content.of(message, files)
        verdict = record.check(previous, message.record_hash, message.content_digest, content)
        if verdict != record.Verdict.SOUND:
            raise RecordBroken(f"conversation {conversation_id}: message {message.pk} does not verify")
        previous = message.record_hash
        digest = message.content_digest or record.digest(content)
        relinked = record.link(relinked, digest)
        Message.objects.filter(pk=message.pk).update(content_digest=digest, record_hash=relinked)
    return True


def _pk(attachment: Attachment) -> int:
    return int(attachment.pk)


def redact(message_ids: Iterable[int], because: str, now: datetime | None = None) -> tuple[int, int]:
    """Redact the messages (in the caller's transaction); returns (messages, conversations
    re-sealed). Their raw MIME and files are released from the blob store after commit."""
    now = now or timezone.now()
    ids = sorted(set(message_ids))
    resealed = 0
    conversations = set(
        Message.objects.filter(pk__in=ids).values_list("conversation_id", flat=True).distinct()
    )
    with transaction.atomic():
        for conversation_id in sorted(conversations):
            resealed += reseal(conversation_id)
        remove_raw(ids, because, now)
        remove_files(Attachment.objects.filter(message_id__in=ids), because, now)
        changed = Message.objects.filter(pk__in=ids, redacted_at__isnull=True).update(
            subject="",
            text="",
            html="",
            sender_email="",
            guideline_findings=[],
            redacted_at=now,
            redacted_because=because,
        )
        Attachment.objects.filter(message_id__in=ids).update(filename="")
    return changed, resealed


def mark_redacted(message_ids: Iterable[int], because: str, now: datetime) -> None:
    """Messages whose content the caller changed in part (an erased name replaced): they verify as
    redacted from now on. Their conversations must have been re-sealed first."""
    Message.objects.filter(pk__in=list(message_ids), redacted_at__isnull=True).update(
        redacted_at=now, redacted_because=because
    )


def remove_raw(message_ids: Iterable[int], because: str, now: datetime) -> int:
    rows = RawMime.objects.filter(message_id__in=list(message_ids), removed_at__isnull=True)
    names = list(rows.exclude(blob="").values_list("blob", flat=True))
    removed = rows.update(data=None, blob="", removed_at=now, removed_reason=because)
    stored.release(names)
    return removed


def remove_files(attachments: QuerySet[Attachment], because: str, now: datetime) -> int:
    found = attachments.filter(removed_at__isnull=True)
    names = [n for n in found.values_list("file", flat=True) if n]
    removed = int(found.update(file="", removed_at=now, removed_reason=because))
    stored.release(names)
    return removed
