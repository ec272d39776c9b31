"""Addresses that carry a number and a signature of it: ``<prefix>-<number>-<signature>@<domain>``.

Used for the VERP return paths (``bounce-``) and customer service's identity per conversation
(``cs-``): derived, never stored, and not guessable without the secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection

from django.conf import settings


def _signature(kind: str, number: int) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{kind}:{number}".encode(), hashlib.sha256).hexdigest()[:12]


def address(prefix: str, kind: str, number: int, domain: str) -> str:
    return f"{prefix}-{number}-{_signature(kind, number)}@{domain}"


def number_in(mailbox: str, prefix: str, kind: str, domains: Collection[str]) -> int | None:
    """The number a signed address of ours stands for, or None (not ours, or a wrong signature)."""
    local, _, domain = mailbox.strip().lower().rpartition("@")
    match = re.fullmatch(re.escape(prefix) + r"-(\d{1,18})-([0-9a-f]{12})", local)
    if domain not in domains or match is None:
        return None
    number = int(match.group(1))
    return number if hmac.compare_digest(match.group(2), _signature(kind, number)) else None
