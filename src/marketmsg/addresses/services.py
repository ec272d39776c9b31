"""Allocating and looking up relay addresses; the state of a seller's sender addresses."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketmsg import rows
from marketmsg.accounts.models import Buyer, SellerAccount, User
from marketmsg.addresses.models import RelayAddress, SenderAddress, SenderAddressChange
from marketmsg.webhooks import events


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


# The buyer (with their user) and the seller, as the hand-written lookups below select them.
_PARTY_COLUMNS = (
    "b.id, b.user_id, b.is_mobile, u.email, u.name, u.role, s.id, s.name, s.notification_emails, s.created_at"
)
_PARTY_JOINS = """
JOIN accounts_buyer b ON b.id = {buyer}
JOIN accounts_user u ON u.id = b.user_id
JOIN accounts_selleraccount s ON s.id = {seller}
"""
_RELAY_COLUMNS = "{t}.id, {t}.local_part, {t}.domain, {t}.side, {t}.is_active, {t}.created_at"

_CONVERSATION_PAIR_SQL = (
    f"SELECT {_PARTY_COLUMNS}, {_RELAY_COLUMNS.format(t='r')} FROM conversations_conversation c"
    + _PARTY_JOINS.format(buyer="c.buyer_id", seller="c.seller_id")
    + "LEFT JOIN addresses_relayaddress r ON r.buyer_id = c.buyer_id AND r.seller_id = c.seller_id "
    "WHERE c.id = %s"
)


def _parties(columns: tuple[Any, ...]) -> tuple[Buyer, SellerAccount]:
    """The Buyer (its user loaded) and the SellerAccount from the ten party columns."""
    buyer_id, user_id, is_mobile, email, name, role, seller_id, shop, notify, shop_created = columns
    buyer = rows.loaded(Buyer, {"id": buyer_id, "user_id": user_id, "is_mobile": is_mobile})
    rows.attach(buyer, user=rows.loaded(User, {"id": user_id, "email": email, "name": name, "role": role}))
    seller = rows.loaded(
        SellerAccount,
        {"id": seller_id, "name": shop, "notification_emails": notify, "created_at": shop_created},
    )
    return buyer, seller


def relay_pair_of_conversation(conversation_id: int) -> RelayPair:
    """The pair of a conversation, with its buyer (and user) and seller loaded: one hand-written
    query, because the worker asks for every delivery it renders (ADR 4)."""
    # SQL: the worker's per-delivery look-up, as in relay.outbound (ADR 24)
    found = rows.fetchall(_CONVERSATION_PAIR_SQL, [conversation_id])
    if not found:
        raise RelayAddress.DoesNotExist(f"no conversation {conversation_id}")
    buyer, seller = _parties(found[0][:10])
    sides: dict[str, RelayAddress] = {}
    for row in found:
        if row[10] is None:  # the pair has no relay address yet
            continue
        relay = _relay_loaded(row[10:], buyer, seller)
        sides[relay.side] = relay
    if len(sides) < 2:  # created on first use, as relay_pair does
        return relay_pair(buyer, seller)
    return RelayPair(sides[RelayAddress.Side.BUYER], sides[RelayAddress.Side.SELLER])


def _relay_loaded(columns: tuple[Any, ...], buyer: Buyer, seller: SellerAccount) -> RelayAddress:
    """A RelayAddress of this pair from the six relay columns, its buyer and seller attached."""
    rid, local, domain, side, active, created = columns
    relay = rows.loaded(
        RelayAddress,
        {
            "id": rid,
            "local_part": local,
            "domain": domain,
            "buyer_id": buyer.pk,
            "seller_id": seller.pk,
            "side": side,
            "is_active": active,
            "created_at": created,
        },
    )
    rows.attach(relay, buyer=buyer, seller=seller)
    return relay


def relay_pair_of(relay: RelayAddress) -> RelayPair:
    """The pair that ``relay`` belongs to, reusing its already loaded buyer and seller."""
    other_side = (
        RelayAddress.Side.SELLER if relay.side == RelayAddress.Side.BUYER else RelayAddress.Side.BUYER
    )
    other = getattr(relay, "_counterpart", None)  # loaded with it by find_relay_address
    if other is None:
        other = RelayAddress.objects.filter(
            buyer_id=relay.buyer_id, seller_id=relay.seller_id, side=other_side
        ).first()
    if other is None:
        other = _create(relay.buyer, relay.seller, other_side)
    rows.attach(other, buyer=relay.buyer, seller=relay.seller)
    if relay.side == RelayAddress.Side.BUYER:
        return RelayPair(relay, other)
    return RelayPair(other, relay)


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


_ROUTE_SQL = (
    f"SELECT {_RELAY_COLUMNS.format(t='r')}, {_PARTY_COLUMNS}, {_RELAY_COLUMNS.format(t='o')} "
    "FROM addresses_relayaddress r"
    + _PARTY_JOINS.format(buyer="r.buyer_id", seller="r.seller_id")
    + "LEFT JOIN addresses_relayaddress o "
    "ON o.buyer_id = r.buyer_id AND o.seller_id = r.seller_id AND o.side <> r.side "
    "WHERE r.local_part = %s AND r.is_active"
)


def find_relay_address(address: str) -> RelayAddress | None:
    """The active relay address for ``local@domain`` with its buyer, seller and counterpart, or None.

    One hand-written query: this runs for every recipient of every mail, and the ORM's query
    building cost more than the database did. ``relay_pair_of`` then needs no query.
    """
    local, _, domain = address.strip().lower().rpartition("@")
    if domain not in relay_domains() or len(local) != 16:
        return None
    # SQL: every recipient of every mail; relay address, parties and counterpart in one query (ADR 24)
    found = rows.fetchall(_ROUTE_SQL, [local])
    row = found[0] if found else None
    if row is None or row[2] != domain:
        return None
    buyer, seller = _parties(row[6:16])
    relay = _relay_loaded(row[:6], buyer, seller)
    if row[16] is not None:
        relay._counterpart = _relay_loaded(row[16:], buyer, seller)  # type: ignore[attr-defined]
    return relay


def sender_state(account: SellerAccount, email: str) -> str | None:
    # Hand-written: asked at RCPT and again at DATA for every seller's mail (ADR 4).
    # SQL: at RCPT and at DATA for every seller's mail (ADR 24)
    found = rows.fetchall(
        "SELECT state FROM addresses_senderaddress WHERE account_id = %s AND email = %s",
        [account.pk, email.lower()],
    )
    return str(found[0][0]) if found else None


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
        sender = set_sender_state(account, email, SenderAddress.State.UNKNOWN, note="held mail")
        events.sender_pending(account.pk, sender.pk)


def seller_real_addresses(account: SellerAccount) -> set[str]:
    """Every real address known to belong to the seller side, for scrubbing."""
    # One hand-written query on the mail path; it also tells who the owner is, which the account
    # remembers for notification_addresses().
    # SQL: the scrubber's addresses for every mail, in one query (ADR 24)
    found = rows.fetchall(
        "SELECT u.email, su.is_owner FROM accounts_selleruser su "
        "JOIN accounts_user u ON u.id = su.user_id "
        "WHERE su.account_id = %s UNION ALL "
        "SELECT email, %s FROM addresses_senderaddress WHERE account_id = %s",
        [account.pk, False, account.pk],
    )
    account.remember_owner_emails([email.lower() for email, is_owner in found if is_owner])
    addresses = {email for email, _ in found}
    addresses |= {a.strip() for a in account.notification_emails.split(",") if a.strip()}
    return {a.lower() for a in addresses}


def replacement_map(pair: RelayPair, extra_seller: set[str] | None = None) -> dict[str, str]:
    """Each real address of either party mapped to that party's relay address."""
    buyer_relay, seller_relay = pair.buyer_address, pair.seller_address
    sellers = seller_real_addresses(seller_relay.seller) | (extra_seller or set())
    mapping = {a: seller_relay.address for a in sellers}
    mapping[buyer_relay.buyer.email.lower()] = buyer_relay.address
    return mapping
