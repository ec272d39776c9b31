"""Writing the marketplace's records: idempotent upserts keyed by the marketplace's own IDs.

``Upserter.apply(kind, raws)`` takes a batch of raw records and answers each one: created,
updated, unchanged, or refused with the field and why. A batch is written in one transaction with
bulk statements (the importer's speed comes from here); a record is never half-applied: it is
checked whole before anything is written, and if the database still refuses the batch (another
writer got there first), the records are written again one by one, each in its own savepoint.

The Upserter remembers which sellers, buyers and products exist, so an import of a million orders
asks the database about each only once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from marketmsg.accounts.models import Buyer, SellerAccount, SellerUser, User
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from marketmsg.integration import records
from marketmsg.integration.records import (
    BuyerRecord,
    OrderRecord,
    Problem,
    ProductRecord,
    Refused,
    SellerRecord,
)
from marketmsg.orders.models import Order, OrderItem, Product

log = logging.getLogger(__name__)
CREATED, UPDATED, UNCHANGED, REFUSED = "created", "updated", "unchanged", "refused"


@dataclass
class Outcome:
    key: str
    result: str
    id: int | None = None
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"key": self.key, "result": self.result}
        if self.id is not None:
            answer["id"] = self.id
        if self.problems:
            answer["errors"] = [p.as_dict() for p in self.problems]
        return answer


def refused(key: str, field_name: str, message: str) -> Outcome:
    return Outcome(key, REFUSED, problems=[Problem(field_name, message)])


class _Batch:
    """The records of one batch that passed their checks, in order, with their answers."""

    def __init__(self, kind: str, raws: Sequence[Any]) -> None:
        self.outcomes: list[Outcome] = []
        self.valid: list[tuple[int, Any]] = []  # (position in outcomes, record)
        seen: dict[str, int] = {}
        read = records.READERS[kind]
        for i, raw in enumerate(raws):
            try:
                record = read(raw)
            except Refused as refusal:
                self.outcomes.append(Outcome(records.key_of(kind, raw), REFUSED, problems=refusal.problems))
                continue
            if record.key in seen:
                self.outcomes.append(
                    refused(
                        record.key, "", f"appears twice in this batch (first at record {seen[record.key]})."
                    )
                )
                continue
            seen[record.key] = i
            self.outcomes.append(Outcome(record.key, ""))
            self.valid.append((i, record))


class Upserter:
    def __init__(self) -> None:
        self.seller_ids: dict[str, int] = {}
        self.buyer_ids: dict[str, int] = {}
        self.products: set[str] = set()

    # --- the batch as a whole ----------------------------------------------------------------
    def apply(self, kind: str, raws: Sequence[Any]) -> list[Outcome]:
        batch = _Batch(kind, raws)
        write: Callable[[list[tuple[int, Any]], list[Outcome]], None] = getattr(self, f"_{kind}s")
        if not batch.valid:
            return batch.outcomes
        try:
            with transaction.atomic():
                write(batch.valid, batch.outcomes)
        except (IntegrityError, DatabaseError) as error:
            log.info("batch of %s %ss clashed (%s); writing them one by one", len(batch.valid), kind, error)
            self.forget()
            for position, record in batch.valid:
                batch.outcomes[position] = Outcome(record.key, "")
                try:
                    with transaction.atomic():
                        write([(position, record)], batch.outcomes)
                except (IntegrityError, DatabaseError) as single:
                    self.forget()
                    batch.outcomes[position] = refused(
                        record.key,
                        "",
                        f"the database refused it ({type(single).__name__}); nothing was written.",
                    )
        return batch.outcomes

    def forget(self) -> None:
        """After a rollback, what was remembered may not exist."""
        self.seller_ids.clear()
        self.buyer_ids.clear()
        self.products.clear()

    # --- sellers: few, so one at a time, each a savepoint of the batch --------------------------
    def _sellers(self, batch: list[tuple[int, SellerRecord]], outcomes: list[Outcome]) -> None:
        for position, record in batch:
            try:
                with transaction.atomic():
                    outcomes[position] = self._seller(record)
            except Refused as refusal:
                outcomes[position] = Outcome(record.key, REFUSED, problems=refusal.problems)

    def _seller(self, record: SellerRecord) -> Outcome:
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
        people_changed = self._seller_users(account, record)
        self.seller_ids[record.external_id] = account.pk
        if result == UNCHANGED and (changed or people_changed):
            result = UPDATED
        return Outcome(record.key, result, account.pk)

    def _seller_users(self, account: SellerAccount, record: SellerRecord) -> bool:
        """Adds and updates the shop's people; one address is one person (ADR 18). People not in
        the record stay: removing someone from a shop is done in the operator admin."""
        changed = False
        members = {m.user.email: m for m in SellerUser.objects.filter(account=account).select_related("user")}
        for person in sorted(record.users, key=lambda p: not p.owner):  # the owner's row first
            member = members.get(person.email)
            if member is None:
                user = User.objects.filter(email=person.email).first()
                if user is None:
                    user = User.objects.create(
                        email=person.email,
                        name=person.name,
                        role=User.Role.SELLER,
                        language=person.language,
                        password=make_password(None),
                    )
                elif hasattr(user, "seller_membership"):
                    raise Refused(
                        [
                            Problem(
                                "users",
                                f"{person.email} already works for another shop; one address, one shop.",
                            )
                        ]
                    )
                elif user.role == User.Role.STAFF:
                    raise Refused([Problem("users", f"{person.email} is marketplace staff.")])
                else:  # a buyer who now also sells (ADR 18): they land in the message center
                    User.objects.filter(pk=user.pk).update(role=User.Role.SELLER)
                if person.owner:
                    SellerUser.objects.filter(account=account, is_owner=True).update(is_owner=False)
                member = SellerUser.objects.create(account=account, user=user, is_owner=person.owner)
                addresses.set_sender_state(
                    account, person.email, SenderAddress.State.APPROVED, note="seller user (operator)"
                )
                changed = True
                continue
            user = member.user
            fields = [
                name
                for name, value in (("name", person.name), ("language", person.language))
                if getattr(user, name) != value
            ]
            for name in fields:
                setattr(user, name, dict(name=person.name, language=person.language)[name])
            if fields:
                user.save(update_fields=fields)
                changed = True
            if member.is_owner != person.owner:
                if person.owner:
                    SellerUser.objects.filter(account=account, is_owner=True).update(is_owner=False)
                SellerUser.objects.filter(pk=member.pk).update(is_owner=person.owner)
                changed = True
        return changed

    # --- buyers: in bulk ----------------------------------------------------------------------
    def _buyers(self, batch: list[tuple[int, BuyerRecord]], outcomes: list[Outcome]) -> None:
        existing = {
            b.external_id: b
            for b in Buyer.objects.filter(external_id__in=[r.external_id for _, r in batch]).select_related(
                "user"
            )
        }
        emails = {r.email for _, r in batch}
        holders = {
            u.email: u
            for u in User.objects.filter(email__in=emails).select_related("buyer", "seller_membership")
        }
        taken: set[str] = set()  # addresses given to a record of this batch
        new_users: list[tuple[int, BuyerRecord, User]] = []
        attach: list[tuple[int, BuyerRecord, User]] = []
        changed_users: dict[int, User] = {}
        changed_buyers: dict[int, Buyer] = {}
        for position, record in batch:
            mobile = (
                addresses.is_mobile_address(record.email) if record.is_mobile is None else record.is_mobile
            )
            holder = holders.get(record.email)
            if record.email in taken:
                outcomes[position] = refused(record.key, "email", "is given to another buyer in this batch.")
                continue
            buyer = existing.get(record.external_id)
            if buyer is None and holder is not None and _has_buyer(holder):
                if holder.buyer.external_id is not None:
                    outcomes[position] = refused(
                        record.key, "email", "belongs to another buyer; one address is one person."
                    )
                    continue
                buyer = holder.buyer  # a buyer from before the integration: it gets its external ID
                buyer.external_id = record.external_id
                changed_buyers[buyer.pk] = buyer
            if buyer is None:
                taken.add(record.email)
                if holder is None:
                    new_users.append((position, record, _new_user(record)))
                elif holder.role == User.Role.STAFF:
                    outcomes[position] = refused(record.key, "email", "belongs to marketplace staff.")
                    continue
                else:  # a seller user who also shops (ADR 18)
                    attach.append((position, record, holder))
                buyer_is_new = True
            else:
                buyer_is_new = False
                user = buyer.user
                if record.email != user.email:
                    if holder is not None and holder.pk != user.pk:
                        outcomes[position] = refused(
                            record.key, "email", "belongs to another person; one address is one person."
                        )
                        continue
                    taken.add(record.email)
                if (user.email, user.name, user.language) != (record.email, record.name, record.language):
                    user.email, user.name, user.language = record.email, record.name, record.language
                    changed_users[user.pk] = user
                if buyer.is_mobile != mobile:  # the relay addresses stay as they are (SPEC: never change)
                    buyer.is_mobile = mobile
                    changed_buyers[buyer.pk] = buyer
                self.buyer_ids[record.external_id] = buyer.pk
                changed = user.pk in changed_users or buyer.pk in changed_buyers
                outcomes[position] = Outcome(record.key, UPDATED if changed else UNCHANGED, buyer.pk)
            if buyer_is_new:
                outcomes[position] = Outcome(record.key, CREATED)
        User.objects.bulk_create([user for _, _, user in new_users])
        fresh = [
            (position, record, Buyer(user=user, external_id=record.external_id, is_mobile=_mobile(record)))
            for position, record, user in [*new_users, *attach]
        ]
        Buyer.objects.bulk_create([buyer for _, _, buyer in fresh])
        for position, record, buyer in fresh:
            outcomes[position].id = buyer.pk
            self.buyer_ids[record.external_id] = buyer.pk
        if changed_users:
            User.objects.bulk_update(list(changed_users.values()), ["email", "name", "language"])
        if changed_buyers:
            Buyer.objects.bulk_update(list(changed_buyers.values()), ["is_mobile", "external_id"])

    # --- products ----------------------------------------------------------------------------
    def _products(self, batch: list[tuple[int, ProductRecord]], outcomes: list[Outcome]) -> None:
        existing = {
            p.product_id: p for p in Product.objects.filter(product_id__in=[r.product_id for _, r in batch])
        }
        now = timezone.now()
        new: list[tuple[int, Product]] = []
        changed: list[Product] = []
        for position, record in batch:
            found = existing.get(record.product_id)
            if found is None:
                new.append(
                    (position, Product(product_id=record.product_id, title=record.title, updated_at=now))
                )
                outcomes[position] = Outcome(record.key, CREATED)
            elif found.title != record.title:
                found.title, found.updated_at = record.title, now
                changed.append(found)
                outcomes[position] = Outcome(record.key, UPDATED, found.pk)
            else:
                outcomes[position] = Outcome(record.key, UNCHANGED, found.pk)
            self.products.add(record.product_id)
        Product.objects.bulk_create([p for _, p in new])
        for position, product in new:
            outcomes[position].id = product.pk
        if changed:
            Product.objects.bulk_update(changed, ["title", "updated_at"])

    def _remember_products(self, items: list[OrderItem]) -> None:
        """Products first seen in orders are known by their title at the time."""
        unknown = {item.asin: item.title for item in items if item.asin not in self.products}
        if unknown:
            now = timezone.now()
            Product.objects.bulk_create(
                [Product(product_id=pid, title=title, updated_at=now) for pid, title in unknown.items()],
                ignore_conflicts=True,
            )
            self.products.update(unknown)

    # --- orders: in bulk ----------------------------------------------------------------------
    def _ids(self, kind: str, wanted: set[str]) -> dict[str, int]:
        known = self.seller_ids if kind == "seller" else self.buyer_ids
        missing = wanted - known.keys()
        if missing:
            model: Any = SellerAccount if kind == "seller" else Buyer
            known.update(model.objects.filter(external_id__in=missing).values_list("external_id", "id"))
        return known

    def _orders(self, batch: list[tuple[int, OrderRecord]], outcomes: list[Outcome]) -> None:
        sellers = self._ids("seller", {r.seller for _, r in batch})
        buyers = self._ids("buyer", {r.buyer for _, r in batch})
        existing = {o.order_id: o for o in Order.objects.filter(order_id__in=[r.order_id for _, r in batch])}
        items_of: dict[int, list[OrderItem]] = {}
        if existing:
            for item in OrderItem.objects.filter(order__in=list(existing.values())).order_by("id"):
                items_of.setdefault(item.order_id, []).append(item)
        now = timezone.now()
        new: list[tuple[int, OrderRecord, Order]] = []
        changed: list[Order] = []
        replaced: list[tuple[Order, OrderRecord]] = []
        for position, record in batch:
            seller_id, buyer_id = sellers.get(record.seller), buyers.get(record.buyer)
            if seller_id is None:
                outcomes[position] = refused(
                    record.key, "seller", f"no seller {record.seller!r}: upsert the seller first."
                )
                continue
            if buyer_id is None:
                outcomes[position] = refused(
                    record.key, "buyer", f"no buyer {record.buyer!r}: upsert the buyer first."
                )
                continue
            order = existing.get(record.order_id)
            if order is None:
                order = Order(order_id=record.order_id, seller_id=seller_id, buyer_id=buyer_id)
                _fill(order, record, now)
                new.append((position, record, order))
                outcomes[position] = Outcome(record.key, CREATED)
                continue
            if (order.seller_id, order.buyer_id) != (seller_id, buyer_id):
                outcomes[position] = refused(
                    record.key,
                    "seller",
                    "an order's seller and buyer never change (its messages belong to them).",
                )
                continue
            before = _order_state(order)
            _fill(order, record, now)
            items_changed = _item_tuples(items_of.get(order.pk, [])) != [
                (i.product_id, i.title, i.quantity) for i in record.items
            ]
            if items_changed:
                replaced.append((order, record))
            if _order_state(order) != before:
                changed.append(order)
            outcomes[position] = Outcome(
                record.key, UPDATED if items_changed or _order_state(order) != before else UNCHANGED, order.pk
            )
        Order.objects.bulk_create([order for _, _, order in new])
        items = [
            OrderItem(order_id=order.pk, asin=item.product_id, title=item.title, quantity=item.quantity)
            for _, record, order in new
            for item in record.items
        ]
        for position, _, order in new:
            outcomes[position].id = order.pk
        if replaced:
            OrderItem.objects.filter(order__in=[order for order, _ in replaced]).delete()
            items += [
                OrderItem(order_id=order.pk, asin=item.product_id, title=item.title, quantity=item.quantity)
                for order, record in replaced
                for item in record.items
            ]
        OrderItem.objects.bulk_create(items)
        self._remember_products(items)
        if changed:
            Order.objects.bulk_update(changed, _ORDER_FIELDS)


_ORDER_FIELDS = [
    "ordered_at",
    "status",
    "fulfillment",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
    "returned_at",
    "tracking_carrier",
    "tracking_number",
]
_STATUS_TIME = {
    "shipped": "shipped_at",
    "delivered": "delivered_at",
    "cancelled": "cancelled_at",
    "returned": "returned_at",
}


def _fill(order: Order, record: OrderRecord, now: datetime) -> None:
    order.ordered_at = record.ordered_at
    order.fulfillment = record.fulfillment
    order.tracking_carrier, order.tracking_number = record.tracking_carrier, record.tracking_number
    for name, moment in record.times.items():
        setattr(order, name, moment)
    stamp = _STATUS_TIME.get(record.status)
    if stamp and getattr(order, stamp) is None:  # the status's time, when the marketplace gave none
        setattr(order, stamp, now)
    order.status = record.status


def _order_state(order: Order) -> tuple[Any, ...]:
    return tuple(getattr(order, name) for name in _ORDER_FIELDS)


def _item_tuples(items: list[OrderItem]) -> list[tuple[str, str, int]]:
    return [(i.asin, i.title, i.quantity) for i in items]


def _has_buyer(user: User) -> bool:
    try:
        return user.buyer is not None
    except Buyer.DoesNotExist:
        return False


def _mobile(record: BuyerRecord) -> bool:
    return addresses.is_mobile_address(record.email) if record.is_mobile is None else record.is_mobile


def _new_user(record: BuyerRecord) -> User:
    return User(
        email=record.email,
        name=record.name,
        role=User.Role.BUYER,
        language=record.language,
        password=make_password(None),
        date_joined=timezone.now(),
    )
