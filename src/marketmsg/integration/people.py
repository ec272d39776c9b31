"""Upserting sellers (with their people) and buyers. One address is one person (ADR 18): a
shopkeeper who also shops is one User with a SellerUser and a Buyer; nobody works for two shops.

New sellers and buyers are written with bulk statements (integration.upsert explains the batch);
a seller that already exists, or whose people already have an account, is written on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketmsg import bulk
from marketmsg.accounts.models import Buyer, SellerAccount, SellerUser, User, unusable_password
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress, SenderAddressChange
from marketmsg.integration.outcomes import CREATED, REFUSED, UNCHANGED, UPDATED, Outcome, refused
from marketmsg.integration.records import BuyerRecord, Problem, Refused, SellerRecord, SellerUserRecord


@dataclass
class Known:
    """What an Upserter learnt exists: the marketplace's IDs → ours."""

    seller_ids: dict[str, int] = field(default_factory=dict)
    buyer_ids: dict[str, int] = field(default_factory=dict)

    def forget(self) -> None:
        self.seller_ids.clear()
        self.buyer_ids.clear()


_USER_FIELDS = (
    "email",
    "name",
    "role",
    "language",
    "password",
    "is_active",
    "is_staff",
    "is_superuser",
    "is_supervisor",
    "date_joined",
    "time_zone",
    "external_id",
)


def _user_row(
    email: str, name: str, role: str, language: str, now: Any, external_id: str | None = None
) -> tuple[Any, ...]:
    return (
        email, name, role, language, unusable_password(), True, False, False, False, now, "Asia/Tokyo",
        external_id,
    )  # fmt: skip


# --- sellers ------------------------------------------------------------------------------------
def write_sellers(batch: list[tuple[int, SellerRecord]], outcomes: list[Outcome], known: Known) -> None:
    existing = set(
        SellerAccount.objects.filter(external_id__in=[r.external_id for _, r in batch]).values_list(
            "external_id", flat=True
        )
    )
    emails = {u.email for _, r in batch for u in r.users}
    taken = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    ids = {u.external_id for _, r in batch for u in r.users if u.external_id}
    taken |= {
        f"id:{i}" for i in User.objects.filter(external_id__in=ids).values_list("external_id", flat=True)
    }
    fresh: list[tuple[int, SellerRecord]] = []
    seen: set[str] = set()
    for position, record in batch:
        people = {u.email for u in record.users} | {
            f"id:{u.external_id}" for u in record.users if u.external_id
        }
        if record.external_id in existing or people & (taken | seen):
            _one_seller(position, record, outcomes, known)  # a known shop or known people
            continue
        seen |= people
        fresh.append((position, record))
    _new_sellers(fresh, outcomes, known)


def _new_sellers(fresh: list[tuple[int, SellerRecord]], outcomes: list[Outcome], known: Known) -> None:
    """Shops whose people are all new, in a few statements for the whole batch."""
    if not fresh:
        return
    now = timezone.now()
    account_ids = bulk.insert_returning(
        SellerAccount,
        ("external_id", "name", "notification_emails", "fba_product_support", "created_at"),
        [
            (r.external_id, r.name, ",".join(r.notification_emails or ()), bool(r.fba_product_support), now)
            for _, r in fresh
        ],
    )
    people = [(account, u) for account, (_, r) in zip(account_ids, fresh, strict=True) for u in r.users]
    user_ids = bulk.insert_returning(
        User,
        _USER_FIELDS,
        [_user_row(u.email, u.name, User.Role.SELLER, u.language, now, u.external_id) for _, u in people],
    )
    bulk.insert(
        SellerUser,
        ("account", "user", "is_owner"),
        [(account, uid, u.owner) for (account, u), uid in zip(people, user_ids, strict=True)],
    )
    sender_ids = bulk.insert_returning(
        SenderAddress,
        ("account", "email", "state", "is_shared", "created_at", "updated_at"),
        [(account, u.email, SenderAddress.State.APPROVED, False, now, now) for account, u in people],
    )
    bulk.insert(
        SenderAddressChange,
        ("sender", "from_state", "to_state", "changed_at", "note"),
        [(sid, "", SenderAddress.State.APPROVED, now, "seller user (operator)") for sid in sender_ids],
    )
    for account, (position, record) in zip(account_ids, fresh, strict=True):
        outcomes[position] = Outcome(record.key, CREATED, account)
        known.seller_ids[record.external_id] = account


def _one_seller(position: int, record: SellerRecord, outcomes: list[Outcome], known: Known) -> None:
    try:
        with transaction.atomic():
            outcomes[position] = _seller(record, known)
    except Refused as refusal:
        outcomes[position] = Outcome(record.key, REFUSED, problems=refusal.problems)


def _seller(record: SellerRecord, known: Known) -> Outcome:
    account = SellerAccount.objects.filter(external_id=record.external_id).first()
    result = UNCHANGED
    if account is None:
        account = SellerAccount.objects.create(external_id=record.external_id, name=record.name)
        result = CREATED
    changes: dict[str, Any] = {"name": record.name}
    if record.notification_emails is not None:
        changes["notification_emails"] = ",".join(record.notification_emails)
    if record.fba_product_support is not None:
        changes["fba_product_support"] = record.fba_product_support
    changed = [name for name, value in changes.items() if getattr(account, name) != value]
    for name in changed:
        setattr(account, name, changes[name])
    if changed:
        account.save(update_fields=changed)
    people_changed = _seller_users(account, record)
    known.seller_ids[record.external_id] = account.pk
    if result == UNCHANGED and (changed or people_changed):
        result = UPDATED
    return Outcome(record.key, result, account.pk)


def _seller_users(account: SellerAccount, record: SellerRecord) -> bool:
    """Adds and updates the shop's people. People not in the record stay: removing someone from
    a shop is done in the operator admin (nothing of the record is deleted)."""
    changed = False
    members = {m.user.email: m for m in SellerUser.objects.filter(account=account).select_related("user")}
    for person in sorted(record.users, key=lambda p: not p.owner):  # the owner's row first
        member = members.get(person.email)
        if member is None:
            add_member(account, person)
            changed = True
            continue
        user = member.user
        wanted: dict[str, Any] = {"name": person.name, "language": person.language}
        if person.external_id is not None:
            _external_id_free(person, user.pk)
            wanted["external_id"] = person.external_id
        fields = [name for name, value in wanted.items() if getattr(user, name) != value]
        for name in fields:
            setattr(user, name, wanted[name])
        if fields:
            user.save(update_fields=fields)
            changed = True
        if member.is_owner != person.owner:
            if person.owner:
                SellerUser.objects.filter(account=account, is_owner=True).update(is_owner=False)
            SellerUser.objects.filter(pk=member.pk).update(is_owner=person.owner)
            changed = True
    return changed


def _external_id_free(person: SellerUserRecord, user_id: int | None) -> None:
    if not person.external_id:
        return
    others = User.objects.filter(external_id=person.external_id)
    if user_id is not None:
        others = others.exclude(pk=user_id)
    if others.exists():
        message = f"external_id {person.external_id!r} ({person.email}) already names another person."
        raise Refused([Problem("users", message)])


def add_member(account: SellerAccount, person: SellerUserRecord, by: str = "operator") -> User:
    """Adds a person to a shop (made if new; a buyer stays a buyer too); Refused when they work
    for another shop or are staff. ``by`` is noted on their approved sender address."""
    user = User.objects.filter(email=person.email).select_related("seller_membership").first()
    _external_id_free(person, user.pk if user else None)
    if user is None:
        user = User.objects.create(
            email=person.email,
            name=person.name,
            role=User.Role.SELLER,
            language=person.language,
            password=unusable_password(),
            external_id=person.external_id,
        )
    elif hasattr(user, "seller_membership"):
        raise Refused(
            [Problem("users", f"{person.email} already works for another shop; one address, one shop.")]
        )
    elif user.role == User.Role.STAFF:
        raise Refused([Problem("users", f"{person.email} is marketplace staff.")])
    else:  # a buyer who now also sells (ADR 18): they land in the message center after sign-in
        changes: dict[str, Any] = {"role": User.Role.SELLER}
        if person.external_id is not None:
            changes["external_id"] = person.external_id
        User.objects.filter(pk=user.pk).update(**changes)
    if person.owner:
        SellerUser.objects.filter(account=account, is_owner=True).update(is_owner=False)
    SellerUser.objects.create(account=account, user=user, is_owner=person.owner)
    addresses.set_sender_state(
        account, person.email, SenderAddress.State.APPROVED, note=f"seller user ({by})"
    )
    return user


# --- buyers -------------------------------------------------------------------------------------
@dataclass
class _BuyerWrites:
    new_users: list[tuple[int, BuyerRecord]] = field(default_factory=list)
    attach: list[tuple[int, BuyerRecord, int]] = field(default_factory=list)  # (…, existing user ID)
    users: dict[int, User] = field(default_factory=dict)
    buyers: dict[int, Buyer] = field(default_factory=dict)


def write_buyers(batch: list[tuple[int, BuyerRecord]], outcomes: list[Outcome], known: Known) -> None:
    existing = {
        b.external_id: b
        for b in Buyer.objects.filter(external_id__in=[r.external_id for _, r in batch]).select_related(
            "user"
        )
    }
    holders = {
        u.email: u
        for u in User.objects.filter(email__in={r.email for _, r in batch}).select_related(
            "buyer", "seller_membership"
        )
    }
    writes = _BuyerWrites()
    taken: set[str] = set()  # addresses given to a record of this batch
    for position, record in batch:
        if record.email in taken:
            outcomes[position] = refused(record.key, "email", "is given to another buyer in this batch.")
            continue
        buyer = existing.get(record.external_id)
        holder = holders.get(record.email)
        if buyer is None:
            outcomes[position] = _new_buyer(position, record, holder, writes)
        else:
            outcomes[position] = _changed_buyer(record, buyer, holder, writes)
        outcome = outcomes[position]
        if outcome.result != REFUSED:
            taken.add(record.email)
        if outcome.id is not None:
            known.buyer_ids[record.external_id] = outcome.id
    _write_buyers(writes, outcomes, known)


def _new_buyer(position: int, record: BuyerRecord, holder: User | None, writes: _BuyerWrites) -> Outcome:
    if holder is None:
        writes.new_users.append((position, record))
        return Outcome(record.key, CREATED)
    if holder.role == User.Role.STAFF:
        return refused(record.key, "email", "belongs to marketplace staff.")
    buyer = _buyer_of(holder)
    if buyer is None:  # a seller user who also shops (ADR 18)
        writes.attach.append((position, record, holder.pk))
        return Outcome(record.key, CREATED)
    if buyer.external_id is not None:
        return refused(record.key, "email", "belongs to another buyer; one address is one person.")
    buyer.external_id = record.external_id  # a buyer from before the integration gets its ID
    writes.buyers[buyer.pk] = buyer
    return _changed_buyer(record, buyer, holder, writes, adopted=True)


def _changed_buyer(
    record: BuyerRecord, buyer: Buyer, holder: User | None, writes: _BuyerWrites, adopted: bool = False
) -> Outcome:
    user = buyer.user
    if user.erased_at is not None:
        return refused(
            record.key,
            "external_id",
            f"was erased at the person's request on {user.erased_at:%Y-%m-%d}; it cannot be brought back.",
        )
    if record.email != user.email and holder is not None and holder.pk != user.pk:
        return refused(record.key, "email", "belongs to another person; one address is one person.")
    if (user.email, user.name, user.language) != (record.email, record.name, record.language):
        user.email, user.name, user.language = record.email, record.name, record.language
        writes.users[user.pk] = user
    mobile = _mobile(record)
    if buyer.is_mobile != mobile:  # its relay addresses stay as they are (SPEC: they never change)
        buyer.is_mobile = mobile
        writes.buyers[buyer.pk] = buyer
    changed = adopted or user.pk in writes.users or buyer.pk in writes.buyers
    return Outcome(record.key, UPDATED if changed else UNCHANGED, buyer.pk)


def _write_buyers(writes: _BuyerWrites, outcomes: list[Outcome], known: Known) -> None:
    now = timezone.now()
    user_ids = bulk.insert_returning(
        User,
        _USER_FIELDS,
        [_user_row(r.email, r.name, User.Role.BUYER, r.language, now) for _, r in writes.new_users],
    )
    fresh = [
        *((p, r, uid) for (p, r), uid in zip(writes.new_users, user_ids, strict=True)),
        *writes.attach,
    ]
    buyer_ids = bulk.insert_returning(
        Buyer,
        ("user", "external_id", "is_mobile", "declines_unprompted"),
        [(uid, r.external_id, _mobile(r), False) for _, r, uid in fresh],
    )
    for (position, record, _), buyer_id in zip(fresh, buyer_ids, strict=True):
        outcomes[position].id = buyer_id
        known.buyer_ids[record.external_id] = buyer_id
    if writes.users:
        User.objects.bulk_update(list(writes.users.values()), ["email", "name", "language"])
    if writes.buyers:
        Buyer.objects.bulk_update(list(writes.buyers.values()), ["is_mobile", "external_id"])


def _buyer_of(user: User) -> Buyer | None:
    try:
        return user.buyer
    except Buyer.DoesNotExist:
        return None


def _mobile(record: BuyerRecord) -> bool:
    return addresses.is_mobile_address(record.email) if record.is_mobile is None else record.is_mobile
