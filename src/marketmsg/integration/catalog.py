"""Upserting products and orders, in bulk (integration.upsert explains the batch).

An order's seller and buyer never change once it exists: its conversations belong to them. Its
items are replaced when they differ. Products are what the marketplace upserts as products: an
order item keeps its own product ID and the title it was bought under, and makes no product row
(nothing reads the catalog for an order, and a first import of a million orders would otherwise
write a catalog row for nearly every item).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Model
from django.utils import timezone

from marketmsg import bulk
from marketmsg.accounts.models import Buyer, SellerAccount
from marketmsg.integration.outcomes import CREATED, UNCHANGED, UPDATED, Outcome, refused
from marketmsg.integration.people import Known
from marketmsg.integration.records import OrderRecord, ProductRecord
from marketmsg.orders.models import Order, OrderItem, Product

_ORDER_FIELDS = (
    "ordered_at",
    "status",
    "fulfillment",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
    "returned_at",
    "tracking_carrier",
    "tracking_number",
)
# The time a status is reached; set to when it was written if the marketplace gave none.
_STATUS_TIME = {
    "shipped": "shipped_at",
    "delivered": "delivered_at",
    "cancelled": "cancelled_at",
    "returned": "returned_at",
}


def write_products(batch: list[tuple[int, ProductRecord]], outcomes: list[Outcome], known: Known) -> None:
    existing = {
        p.product_id: p for p in Product.objects.filter(product_id__in=[r.product_id for _, r in batch])
    }
    now = timezone.now()
    new: list[tuple[int, ProductRecord]] = []
    changed: list[Product] = []
    for position, record in batch:
        found = existing.get(record.product_id)
        if found is None:
            new.append((position, record))
            outcomes[position] = Outcome(record.key, CREATED)
        elif found.title != record.title:
            found.title, found.updated_at = record.title, now
            changed.append(found)
            outcomes[position] = Outcome(record.key, UPDATED, found.pk)
        else:
            outcomes[position] = Outcome(record.key, UNCHANGED, found.pk)
    ids = bulk.insert_returning(
        Product, ("product_id", "title", "updated_at"), [(r.product_id, r.title, now) for _, r in new]
    )
    for (position, _), product_id in zip(new, ids, strict=True):
        outcomes[position].id = product_id
    if changed:
        Product.objects.bulk_update(changed, ["title", "updated_at"])


def _ids(model: type[Model], wanted: set[str], known: dict[str, int]) -> dict[str, int]:
    missing = wanted - known.keys()
    if missing:
        known.update(model._default_manager.filter(external_id__in=missing).values_list("external_id", "id"))
    return known


def write_orders(batch: list[tuple[int, OrderRecord]], outcomes: list[Outcome], known: Known) -> None:
    sellers = _ids(SellerAccount, {r.seller for _, r in batch}, known.seller_ids)
    buyers = _ids(Buyer, {r.buyer for _, r in batch}, known.buyer_ids)
    existing = {o.order_id: o for o in Order.objects.filter(order_id__in=[r.order_id for _, r in batch])}
    now = timezone.now()
    new: list[tuple[int, OrderRecord, tuple[Any, ...]]] = []
    changed: list[Order] = []
    replaced: list[tuple[Order, OrderRecord]] = []
    items_of = _items_of(list(existing.values()))
    for position, record in batch:
        seller_id, buyer_id = sellers.get(record.seller), buyers.get(record.buyer)
        if seller_id is None:
            outcomes[position] = refused(
                record.key, "seller", f"no seller {record.seller!r}: upsert it first."
            )
            continue
        if buyer_id is None:
            outcomes[position] = refused(
                record.key, "buyer", f"no buyer {record.buyer!r}: upsert them first."
            )
            continue
        order = existing.get(record.order_id)
        if order is None:
            new.append((position, record, (record.order_id, seller_id, buyer_id, *_new_state(record, now))))
            outcomes[position] = Outcome(record.key, CREATED)
            continue
        if (order.seller_id, order.buyer_id) != (seller_id, buyer_id):
            outcomes[position] = refused(
                record.key, "seller", "an order's seller and buyer never change (its messages are theirs)."
            )
            continue
        before = _state(order)
        _fill(order, record, now)
        new_items = [(i.product_id, i.title, i.quantity) for i in record.items]
        items_changed = items_of.get(order.pk, []) != new_items
        if items_changed:
            replaced.append((order, record))
        if _state(order) != before:
            changed.append(order)
        result = UPDATED if items_changed or _state(order) != before else UNCHANGED
        outcomes[position] = Outcome(record.key, result, order.pk)
    _write(new, changed, replaced, outcomes)


def _write(
    new: list[tuple[int, OrderRecord, tuple[Any, ...]]],
    changed: list[Order],
    replaced: list[tuple[Order, OrderRecord]],
    outcomes: list[Outcome],
) -> None:
    ids = bulk.insert_returning(
        Order, ("order_id", "seller", "buyer", *_ORDER_FIELDS), [row for _, _, row in new]
    )
    for (position, _, _), order_id in zip(new, ids, strict=True):
        outcomes[position].id = order_id
    if replaced:
        OrderItem.objects.filter(order__in=[order for order, _ in replaced]).delete()
    items = [
        (order_id, item.product_id, item.title, item.quantity)
        for order_id, record in [
            *((i, r) for i, (_, r, _) in zip(ids, new, strict=True)),
            *((o.pk, r) for o, r in replaced),
        ]
        for item in record.items
    ]
    bulk.insert(OrderItem, ("order", "asin", "title", "quantity"), items)
    if changed:
        Order.objects.bulk_update(changed, list(_ORDER_FIELDS))


def _items_of(orders: list[Order]) -> dict[int, list[tuple[str, str, int]]]:
    found: dict[int, list[tuple[str, str, int]]] = {}
    if orders:
        for item in OrderItem.objects.filter(order__in=orders).order_by("id"):
            found.setdefault(item.order_id, []).append((item.asin, item.title, item.quantity))
    return found


def _fill(order: Order, record: OrderRecord, now: datetime) -> None:
    order.ordered_at = record.ordered_at
    order.fulfillment = record.fulfillment
    order.tracking_carrier, order.tracking_number = record.tracking_carrier, record.tracking_number
    for name, moment in record.times.items():
        setattr(order, name, moment)
    stamp = _STATUS_TIME.get(record.status)
    if stamp and getattr(order, stamp) is None:
        setattr(order, stamp, now)
    order.status = record.status


def _new_state(record: OrderRecord, now: datetime) -> tuple[Any, ...]:
    """A new order's _ORDER_FIELDS, as _fill would set them, without building an Order."""
    times = dict(record.times)
    stamp = _STATUS_TIME.get(record.status)
    if stamp and stamp not in times:
        times[stamp] = now
    return (
        record.ordered_at,
        record.status,
        record.fulfillment,
        times.get("shipped_at"),
        times.get("delivered_at"),
        times.get("cancelled_at"),
        times.get("returned_at"),
        record.tracking_carrier,
        record.tracking_number,
    )


def _state(order: Order) -> tuple[Any, ...]:
    return tuple(getattr(order, name) for name in _ORDER_FIELDS)
