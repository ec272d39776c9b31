"""The marketplace customer service's relay identity in one conversation (SPEC F9):
``cs-<conversation id>-<signature>@<relay domain>``.

An answer from customer service comes from this address, so that a buyer who answers it by mail
reaches the customer-service queue of that conversation (not the seller, and not a dead no-reply
address). Like the VERP return paths, it is derived, not stored: the signature (keyed by the secret
key) stops anyone from writing into a conversation by guessing its number.
"""

from __future__ import annotations

from django.conf import settings

from marketmsg.addresses import signed_local

NAME = "マーケットプレイス カスタマーサービス / Marketplace customer service"


def address_for(conversation_id: int, domain: str) -> str:
    """On ``domain``: the relay domain the buyer already gets the seller's mail from (a mobile
    carrier's filter lets only that one through)."""
    return signed_local.address("cs", "customer-service", conversation_id, domain)


def conversation_id_of(address: str) -> int | None:
    """The conversation a customer-service address stands for, or None if it is not one of ours."""
    domains = (settings.RELAY_DOMAIN, settings.MOBILE_RELAY_DOMAIN)
    return signed_local.number_in(address, "cs", "customer-service", domains)
