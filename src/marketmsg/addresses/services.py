"""Allocating and looking up relay addresses; the state of a seller's sender addresses."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketmsg.accounts.models import Buyer, SellerAccount, User
from marketmsg.addresses.models import RelayAddress, SenderAddress, SenderAddressChange


def new_local_part() -> str:
    """16 lowercase hex characters: 64 bits from the operating system's CSPRNG."""
    return secrets.token_hex(8)


def is_mobile_address(email: str) -> bool:
    domain = email.rpartition("@")[2].lower()
    return any(domain == d or domain.endswith("." + d) for d in settings.MOBILE_CARRIER_DOMAINS)


def relay_domain_for(buyer: Buyer) -> str:
    return settings.MOBILE_RELAY_DOMAIN if buyer.is_mobile else settings.RELAY_DOMAIN


def relay_domains() -> set[str]:
    return {settings.RELAY_DOMAIN, settings.MOBILE_RELAY_DOMAIN}


@dataclass(frozen=True)
class RelayPair:
    buyer_address: RelayAddress  # the buyer as the seller sees them
    seller_address: RelayAddress  # the seller as the buyer sees them


def relay_pair(buyer: Buyer, seller: SellerAccount) -> RelayPair:
    """The pair's two relay addresses, created on first use; they never change afterwards."""
    found = {r.side: r for r in RelayAddress.objects.filter(buyer=buyer, seller=seller)}
    for side in (RelayAddress.Side.BUYER, RelayAddress.Side.SELLER):
        if side not in found:
            found[side] = _create(buyer, seller, side)
    return RelayPair(found[RelayAddress.Side.BUYER], found[RelayAddress.Side.SELLER])


def _create(buyer: Buyer, seller: SellerAccount, side: str) -> RelayAddress:
    for _ in range(5):
        try:
            with transaction.atomic():
                return RelayAddress.objects.create(
                    local_part=new_local_part(),
                    domain=relay_domain_for(buyer),
                    buyer=buyer,
                    seller=seller,
                    side=side,
                )
        except IntegrityError:
            # Either another process created the pair's address first, or (1 in 2^64) a clash.
            existing = RelayAddress.objects.filter(buyer=buyer, seller=seller, side=side).first()
            if existing is not None:
                return existing
    raise RuntimeError("could not allocate a relay address")


def find_relay_address(address: str) -> RelayAddress | None:
    """The active relay address for ``local@domain``, or None."""
    local, _, domain = address.strip().lower().rpartition("@")
    if domain not in relay_domains() or len(local) != 16:
        return None
    relay = (
        RelayAddress.objects.select_related("buyer__user", "seller")
        .filter(local_part=local, is_active=True)
        .first()
    )
    if relay is None or relay.domain != domain:
        return None
    return relay


def sender_state(account: SellerAccount, email: str) -> str | None:
    return (
        SenderAddress.objects.filter(account=account, email=email.lower())
        .values_list("state", flat=True)
        .first()
    )


def set_sender_state(
    account: SellerAccount, email: str, state: str, by: User | None = None, note: str = ""
) -> SenderAddress:
    """Creates or moves a sender address, recording the change; rows are never deleted."""
    email = email.strip().lower()
    sender, created = SenderAddress.objects.get_or_create(
        account=account, email=email, defaults={"state": state}
    )
    previous = "" if created else sender.state
    if not created and sender.state != state:
        sender.state = state
        sender.updated_at = timezone.now()
        sender.save(update_fields=["state", "updated_at"])
    if created or previous != state:
        SenderAddressChange.objects.create(
            sender=sender, from_state=previous, to_state=state, changed_by=by, note=note
        )
    return sender


def record_unknown_sender(account: SellerAccount, email: str) -> None:
    if sender_state(account, email) is None:
        set_sender_state(account, email, SenderAddress.State.UNKNOWN, note="held mail")


def seller_real_addresses(account: SellerAccount) -> set[str]:
    """Every real address known to belong to the seller side, for scrubbing."""
    addresses = set(account.members.values_list("user__email", flat=True))
    addresses |= set(SenderAddress.objects.filter(account=account).values_list("email", flat=True))
    addresses |= {a.strip().lower() for a in account.notification_emails.split(",") if a.strip()}
    return {a.lower() for a in addresses}
