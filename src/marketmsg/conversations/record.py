"""The tamper-evident record of a conversation (SPEC F11).

Every stored message carries ``record_hash``: SHA-256 over the previous message's hash in its
conversation and this message's content (when, who, by which channel, subject, text, HTML, the
raw MIME's hash and each attachment's name, size and hash). Changing any stored message, or
leaving one out, breaks every hash after it. ``staff.export`` writes these hashes into an archive
and ``verify-export`` recomputes them.
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


def seal(previous: str, content: Content) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + content.canonical()).hexdigest()


def attachments_of(files: Iterable[Any]) -> tuple[tuple[str, int, str], ...]:
    """(name, size, sha256) of stored files, in the order they were attached."""
    return tuple((str(f.filename), int(f.size), str(f.sha256)) for f in files)
