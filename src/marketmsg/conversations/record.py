"""The tamper-evident record of a conversation (SPEC F11).

Every stored message carries ``content_digest``, SHA-256 of its canonical content (when, who, by
which channel, subject, text, HTML, the raw MIME's hash and each attachment's name, size and
hash), and ``record_hash``, SHA-256 over the previous message's record hash in its conversation
and this digest. Changing any stored message, or leaving one out, breaks every hash after it.

The chain commits to the digest rather than to the content itself (ADR 22), so a message whose
text was later erased (a person's erasure) or purged (retention) still has its place in the chain:
the digest shows that a message existed and what it hashed to, without its text. Such a message
is *redacted*, not changed. Messages sealed before digests existed (the first form, the content
hashed straight into the link) are checked the first way and re-sealed in the digest form before
anything of them is redacted (``reseal``).

``staff.export`` writes these hashes into an archive and ``verify-export`` recomputes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The fields of a message its record hash covers, besides its attachments.
FIELDS = ("created_at", "author", "channel", "sender_email", "subject", "text", "html", "raw_sha256")


@dataclass(frozen=True)
class Content:
    created_at: datetime
    author: str
    channel: str
    sender_email: str
    subject: str
    text: str
    html: str
    raw_sha256: str
    attachments: tuple[tuple[str, int, str], ...]  # (file name, size, sha256)

    @classmethod
    def of(cls, source: Any, attachments: tuple[tuple[str, int, str], ...]) -> Content:
        """The content of a stored message, a seeded row or an exported entry: anything with these
        fields as attributes or keys (an ISO ``created_at`` string is read as a time)."""

        def get(name: str) -> Any:
            return source[name] if isinstance(source, Mapping) else getattr(source, name)

        created = get("created_at")
        return cls(
            created_at=datetime.fromisoformat(created) if isinstance(created, str) else created,
            author=get("author"),
            channel=get("channel"),
            sender_email=get("sender_email"),
            subject=get("subject"),
            text=get("text"),
            html=get("html"),
            raw_sha256=get("raw_sha256"),
            attachments=attachments,
        )

    def canonical(self) -> bytes:
        fields: dict[str, Any] = {
            "created_at": self.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "author": self.author,
            "channel": self.channel,
            "sender_email": self.sender_email,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "raw_sha256": self.raw_sha256,
            "attachments": [list(a) for a in self.attachments],
        }
        return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def digest(content: Content) -> str:
    return hashlib.sha256(content.canonical()).hexdigest()


def link(previous: str, content_digest: str) -> str:
    """The record hash of a message in the digest form (a canonical content starts with "{", so
    the two forms never hash the same input)."""
    return hashlib.sha256(previous.encode() + b"\ndigest:" + content_digest.encode()).hexdigest()


def sealed(previous: str, content: Content) -> tuple[str, str]:
    """(content_digest, record_hash) of a new message."""
    found = digest(content)
    return found, link(previous, found)


def first_form_seal(previous: str, content: Content) -> str:
    """How messages were sealed before digests: the content hashed straight into the link."""
    return hashlib.sha256(previous.encode() + b"\n" + content.canonical()).hexdigest()


class Verdict:
    SOUND = "sound"
    REDACTED = "redacted"
    CHANGED = "changed"
    UNSEALED = "unsealed"


def check(previous: str, record_hash: str, content_digest: str, content: Content | None) -> str:
    """What a stored or exported message's link says. ``content`` is None for a redacted message,
    whose text is gone: then only its digest's place in the chain can be checked."""
    if not record_hash:
        return Verdict.UNSEALED
    if not content_digest:  # the first form
        if content is None:
            return Verdict.CHANGED
        return Verdict.SOUND if first_form_seal(previous, content) == record_hash else Verdict.CHANGED
    if link(previous, content_digest) != record_hash:
        return Verdict.CHANGED
    if content is None:
        return Verdict.REDACTED
    return Verdict.SOUND if digest(content) == content_digest else Verdict.CHANGED


def attachments_of(files: Iterable[Any]) -> tuple[tuple[str, int, str], ...]:
    """(name, size, sha256) of stored files, in the order they were attached."""
    return tuple((str(f.filename), int(f.size), str(f.sha256)) for f in files)
