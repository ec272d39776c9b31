"""VERP return paths: ``bounce-<delivery id>-<signature>@<relay domain>``.

The signature stops anyone from marking our deliveries as bounced by guessing IDs.
"""

from __future__ import annotations

from django.conf import settings

from marketmsg.addresses import signed_local


def return_path(delivery_id: int) -> str:
    return signed_local.address("bounce", "verp", delivery_id, settings.RELAY_DOMAIN)


def delivery_id_of(address: str) -> int | None:
    """The delivery a VERP address stands for, or None if it is not one of ours."""
    return signed_local.number_in(address, "bounce", "verp", (settings.RELAY_DOMAIN,))
