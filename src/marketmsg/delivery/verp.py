"""VERP return paths: ``bounce-<delivery id>-<signature>@<relay domain>``.

The signature stops anyone from marking our deliveries as bounced by guessing IDs.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings

_LOCAL = re.compile(r"^bounce-(\d{1,18})-([0-9a-f]{12})$")


def _signature(delivery_id: int) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"verp:{delivery_id}".encode(), hashlib.sha256).hexdigest()[:12]


def return_path(delivery_id: int) -> str:
    return f"bounce-{delivery_id}-{_signature(delivery_id)}@{settings.RELAY_DOMAIN}"


def delivery_id_of(address: str) -> int | None:
    """The delivery a VERP address stands for, or None if it is not one of ours."""
    local, _, domain = address.strip().lower().rpartition("@")
    match = _LOCAL.match(local)
    if domain != settings.RELAY_DOMAIN or match is None:
        return None
    delivery_id = int(match.group(1))
    return delivery_id if hmac.compare_digest(match.group(2), _signature(delivery_id)) else None
