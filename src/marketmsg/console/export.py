"""A conversation archive anyone can check (SPEC F11): ``marketmsg export-conversation`` writes
every conversation about an order — messages, raw MIME, attachments, record hashes — into one
zip with a manifest; ``marketmsg verify-export`` recomputes every hash and names what changed.

The manifest is signed with an HMAC under the installation's secret key, so an edit to the
manifest itself is detected too (verification runs where that key is).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from marketmsg.conversations import record, stored
from marketmsg.conversations.models import Conversation, Message

FORMAT = "marketmsg-conversation-export/1"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"


def _sign(manifest: bytes) -> str:
    key = hashlib.sha256(b"marketmsg export manifest\n" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, manifest, hashlib.sha256).hexdigest()


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100] or "file"


def export(order_id: str, out: Path) -> dict[str, int]:
    """Write the archive; returns counts. Raises LookupError when the order has no conversation."""
    conversations = list(
        Conversation.objects.filter(order__order_id=order_id)
        .select_related("seller", "buyer__user")
        .order_by("id")
    )
    if not conversations:
        raise LookupError(order_id)
    counts = {"conversations": len(conversations), "messages": 0, "files": 0}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "order_id": order_id,
        "exported_at": timezone.now().isoformat(),
        "conversations": [],
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for conversation in conversations:
            entry: dict[str, Any] = {
                "id": conversation.pk,
                "seller": {"id": conversation.seller_id, "name": conversation.seller.name},
                "buyer": {"id": conversation.buyer_id, "name": conversation.buyer.user.name},
                "messages": [],
            }
            previous = ""
            for message in conversation.messages.order_by("id").prefetch_related("attachments"):
                entry["messages"].append(_message(archive, message, previous, counts))
                previous = message.record_hash
            manifest["conversations"].append(entry)
        body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
        archive.writestr(MANIFEST, body)
        archive.writestr(SIGNATURE, _sign(body) + "\n")
    return counts


def _message(
    archive: zipfile.ZipFile, message: Message, previous: str, counts: dict[str, int]
) -> dict[str, Any]:
    counts["messages"] += 1
    raw = stored.raw_row(message.pk)
    raw_path, raw_removed = None, ""
    if raw is not None and raw.removed_at is not None:
        raw_removed = f"{raw.removed_reason} {raw.removed_at.date().isoformat()}"
    elif raw is not None:
        raw_path = f"raw/{message.pk}.eml"
        _copy(archive, raw_path, stored.raw_chunks(raw))
    files = []
    for attachment in sorted(message.attachments.all(), key=lambda a: a.pk):
        path = None
        if attachment.file and attachment.removed_at is None:
            path = f"files/{attachment.pk}/{_safe_name(attachment.filename)}"
            _copy(archive, path, stored.file_chunks(attachment))
            counts["files"] += 1
        files.append(
            {
                "id": attachment.pk,
                "filename": attachment.filename,
                "size": attachment.size,
                "sha256": attachment.sha256,
                "path": path,
                "removed_reason": attachment.removed_reason if attachment.removed_at else "",
            }
        )
    return {
        "id": message.pk,
        "created_at": message.created_at.isoformat(timespec="microseconds"),
        "author": message.author,
        "channel": message.channel,
        "state": message.state,
        "sender_email": message.sender_email,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "raw_sha256": message.raw_sha256,
        "raw": raw_path,
        "raw_removed": raw_removed,
        "attachments": files,
        "previous_hash": previous,
        "record_hash": message.record_hash,
        "content_digest": message.content_digest,
        "redacted": message.redacted_because if message.redacted_at else "",
    }


def _copy(archive: zipfile.ZipFile, path: str, pieces: Iterable[bytes]) -> None:
    """Stream a blob into the archive, piece by piece: a 14 MB mail is never held whole."""
    with archive.open(path, "w", force_zip64=True) as out:
        for piece in pieces:
            out.write(piece)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    messages: int = 0
    files: int = 0
    redacted: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: Path) -> Report:
    report = Report()
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        report.problems.append(f"{path} is not a readable export archive ({error}).")
        return report
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            report.problems.append(f"{MANIFEST} is missing: this is not a complete export.")
            return report
        body = archive.read(MANIFEST)
        signature = archive.read(SIGNATURE).decode().strip() if SIGNATURE in names else ""
        if not hmac.compare_digest(signature, _sign(body)):
            report.problems.append(
                f"{MANIFEST} was changed after the export: its signature does not match "
                "(or the archive was made by another installation)."
            )
        try:
            manifest = json.loads(body)
        except ValueError:
            report.problems.append(f"{MANIFEST} is not valid JSON.")
            return report
        expected = {MANIFEST, SIGNATURE}
        for conversation in manifest.get("conversations", []):
            previous = ""
            for message in conversation.get("messages", []):
                expected |= _check_message(archive, names, conversation, message, previous, report)
                previous = message.get("record_hash", "")
        for extra in sorted(names - expected):
            report.problems.append(f"{extra} is in the archive but not in the manifest.")
    return report


def _check_message(
    archive: zipfile.ZipFile,
    names: set[str],
    conversation: dict[str, Any],
    message: dict[str, Any],
    previous: str,
    report: Report,
) -> set[str]:
    report.messages += 1
    label = (
        f"message {message.get('id')} of conversation {conversation.get('id')} "
        f"({message.get('created_at', '?')}, {message.get('author', '?')})"
    )
    seen: set[str] = set()
    if message.get("raw_removed"):
        report.notes.append(f"{label}: its raw MIME was removed ({message['raw_removed']}).")
    raw_path = message.get("raw")
    if raw_path:
        seen.add(raw_path)
        if raw_path not in names:
            report.problems.append(f"{raw_path} ({label}) is missing.")
        elif hashlib.sha256(archive.read(raw_path)).hexdigest() != message.get("raw_sha256"):
            report.problems.append(f"{raw_path} was changed: it is not the raw message {label} stored.")
    for attachment in message.get("attachments", []):
        file_path = attachment.get("path")
        if not file_path:
            continue
        seen.add(file_path)
        report.files += 1
        if file_path not in names:
            report.problems.append(f"{file_path} (attachment of {label}) is missing.")
        elif hashlib.sha256(archive.read(file_path)).hexdigest() != attachment.get("sha256"):
            report.problems.append(f"{file_path} was changed: it is not the file attached to {label}.")
    stored = message.get("record_hash", "")
    if not stored:
        report.notes.append(f"{label} was stored before the tamper-evident record existed and is not sealed.")
        return seen
    if message.get("previous_hash", "") != previous:
        report.problems.append(
            f"{label}: the chain is broken before it (a message was removed, added or reordered)."
        )
    content = None
    if not message.get("redacted"):
        files = tuple(
            (a.get("filename", ""), int(a.get("size", 0)), a.get("sha256", ""))
            for a in message.get("attachments", [])
        )
        content = record.Content.of({name: message.get(name, "") for name in record.FIELDS}, files)
    verdict = record.check(previous, stored, message.get("content_digest", ""), content)
    if verdict == record.Verdict.REDACTED:
        report.redacted += 1
        report.notes.append(
            f"{label} was redacted ({message['redacted']}): its text is gone; its place in the chain "
            "and its digest are intact."
        )
    elif verdict != record.Verdict.SOUND:
        report.problems.append(
            f"{label}: its content does not match its record hash (changed after it was stored)."
        )
    return seen
