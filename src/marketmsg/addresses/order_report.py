"""The order report (注文レポート): one row per order item, with the buyer's relay address.

Sellers who answer from their own mail client find each buyer's address here (SPEC F2). The rows
are produced lazily so that a year of orders streams instead of being built in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime

from django.utils import timezone

from marketmsg.accounts.models import SellerAccount
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import RelayAddress
from marketmsg.orders.models import Order, OrderItem

COLUMNS = (
    "order-id",
    "purchase-date",
    "buyer-name",
    "buyer-relay-email",
    "fulfillment-channel",
    "asin",
    "product-name",
    "quantity",
)
CHUNK = 2000
# A cell that starts like a formula is prefixed, so a spreadsheet shows it instead of running it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a streaming response."""

    def write(self, value: str) -> str:
        return value


def _safe(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_rows(seller: SellerAccount, since: datetime, until: datetime) -> Iterator[tuple[str, ...]]:
    """Order items of ``seller`` ordered in [since, until), oldest first."""
    orders = (
        Order.objects.filter(seller=seller, ordered_at__gte=since, ordered_at__lt=until)
        .select_related("buyer__user")
        .order_by("ordered_at", "id")
    )
    relays: dict[int, str] = {}
    batch: list[Order] = []
    for order in orders.iterator(chunk_size=CHUNK):
        batch.append(order)
        if len(batch) == CHUNK:
            yield from _rows_of(seller, batch, relays)
            batch = []
    yield from _rows_of(seller, batch, relays)


def _rows_of(seller: SellerAccount, orders: list[Order], relays: dict[int, str]) -> Iterator[tuple[str, ...]]:
    if not orders:
        return
    missing = {o.buyer_id for o in orders} - relays.keys()
    for relay in RelayAddress.objects.filter(
        seller=seller, side=RelayAddress.Side.BUYER, buyer_id__in=missing
    ):
        relays[relay.buyer_id] = relay.address
    items: dict[int, list[OrderItem]] = {}
    for item in OrderItem.objects.filter(order__in=orders).order_by("id"):
        items.setdefault(item.order_id, []).append(item)
    for order in orders:
        if order.buyer_id not in relays:  # an order from before relay addresses existed for the pair
            relays[order.buyer_id] = addresses.relay_pair(order.buyer, seller).buyer_address.address
        for item in items.get(order.pk, []):
            yield (
                order.order_id,
                timezone.localtime(order.ordered_at).isoformat(timespec="seconds"),
                _safe(order.buyer.name),
                relays[order.buyer_id],
                order.fulfillment,
                item.asin,
                _safe(item.title),
                str(item.quantity),
            )


def encode(rows: Iterator[tuple[str, ...]], kind: str) -> Iterator[str]:
    """Lines of a TSV or CSV file with a header; CSV starts with a BOM so Excel reads UTF-8."""
    writer = csv.writer(_Echo(), dialect="excel-tab" if kind == "tsv" else "excel", lineterminator="\r\n")
    header: str = writer.writerow(COLUMNS)  # type: ignore[func-returns-value]
    yield ("\ufeff" + header) if kind == "csv" else header
    for row in rows:
        yield writer.writerow(row)  # type: ignore[misc]
