"""The marketplace customer service's relay identity in one conversation (SPEC F9):
``cs-<conversation id>-<signature>@<relay domain>``.

An answer from customer service comes from this address, so that a buyer who answers it by mail
reaches the customer-service queue of that conversation (not the seller, and not a dead no-reply
address). Like the VERP return paths, it is derived, not stored: the signature (keyed by the secret
key) stops anyone from writing into a conversation by guessing its number.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings

NAME = "マーケットプレイス カスタマーサービス / Marketplace customer service"
_LOCAL = re.compile(r"^cs-(\d{1,18})-([0-9a-f]{12})$")


def _signature(conversation_id: int) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"customer-service:{conversation_id}".encode(), hashlib.sha256).hexdigest()[:12]


def address_for(conversation_id: int, domain: str) -> str:
    """On ``domain``: the relay domain the buyer already gets the seller's mail from (a mobile
    carrier's filter lets only that one through)."""
    return f"cs-{conversation_id}-{_signature(conversation_id)}@{domain}"


def conversation_id_of(address: str) -> int | None:
    """The conversation a customer-service address stands for, or None if it is not one of ours."""
    local, _, domain = address.strip().lower().rpartition("@")
    match = _LOCAL.match(local)
    if domain not in (settings.RELAY_DOMAIN, settings.MOBILE_RELAY_DOMAIN) or match is None:
        return None
    conversation_id = int(match.group(1))
    return conversation_id if hmac.compare_digest(match.group(2), _signature(conversation_id)) else None
