"""DKIM signatures on everything the relay sends (SPEC F1): relayed messages and notices alike are
signed for the relay domain, whose addresses are in From and in the VERP return path, so SPF,
DKIM and DMARC all align. Without ``MARKETMSG_DKIM_KEY_FILE`` mail goes out unsigned."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import dkim
from django.conf import settings

log = logging.getLogger(__name__)

SIGNED_HEADERS = [
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"In-Reply-To",
    b"References",
    b"MIME-Version",
    b"Content-Type",
    b"Content-Transfer-Encoding",
    b"Auto-Submitted",
    b"List-Unsubscribe",
]


@cache
def _key(path: str) -> bytes:
    return Path(path).read_bytes()


def sign(data: bytes) -> bytes:
    """``data`` with a DKIM-Signature header in front (relaxed/relaxed, rsa-sha256)."""
    if not settings.DKIM_KEY_FILE:
        return data
    signature = dkim.sign(
        data,
        settings.DKIM_SELECTOR.encode(),
        settings.DKIM_DOMAIN.encode(),
        _key(settings.DKIM_KEY_FILE),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[h for h in SIGNED_HEADERS if _has_header(data, h)],
    )
    return signature + data


def _has_header(data: bytes, name: bytes) -> bool:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name.lower() + b":") or b"\r\n" + name.lower() + b":" in head
