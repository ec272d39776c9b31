"""The marketplace's records (sellers, buyers, products, orders) as the operator API and the
importer take them: checked here, field by field, before anything is written.

Pure functions: a raw dict in, a record or a list of problems out. Each problem names the field
and says what is wrong and how to put it right, so that one bad record among a thousand can be
fixed alone. The same checks serve ``/api/operator/v1/`` and ``marketmsg import``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from marketmsg.orders import identifiers

KINDS = ("seller", "buyer", "product", "order")
LANGUAGES = ("ja", "en")
STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")
FULFILMENTS = ("MFN", "FBA")
MAX_ITEMS = 100
_EXTERNAL_ID = re.compile(r"[\x21-\x7e]{1,100}")  # printable ASCII, no spaces


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class Refused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class SellerUserRecord:
    email: str
    name: str
    language: str
    owner: bool
    # The marketplace's ID of this person: the subject its sign-in names them by (sso). None:
    # not given (an existing person keeps theirs).
    external_id: str | None = None


@dataclass(frozen=True)
class SellerRecord:
    external_id: str
    name: str
    users: tuple[SellerUserRecord, ...]
    notification_emails: tuple[str, ...] | None  # None: leave as it is
    fba_product_support: bool | None

    @property
    def key(self) -> str:
        return self.external_id


@dataclass(frozen=True)
class BuyerRecord:
    external_id: str
    email: str
    name: str
    language: str
    is_mobile: bool | None  # None: decided from the address's domain

    @property
    def key(self) -> str:
        return self.external_id


@dataclass(frozen=True)
class ProductRecord:
    product_id: str
    title: str

    @property
    def key(self) -> str:
        return self.product_id


@dataclass(frozen=True)
class ItemRecord:
    product_id: str
    title: str
    quantity: int


@dataclass(frozen=True)
class OrderRecord:
    order_id: str
    seller: str  # the seller's external_id
    buyer: str  # the buyer's external_id
    ordered_at: datetime
    status: str
    times: dict[str, datetime]  # shipped_at, delivered_at, cancelled_at, returned_at when given
    fulfillment: str
    tracking_carrier: str
    tracking_number: str
    items: tuple[ItemRecord, ...] = field(default=())

    @property
    def key(self) -> str:
        return self.order_id


Record = SellerRecord | BuyerRecord | ProductRecord | OrderRecord


class _Reader:
    """Reads one raw record's fields, collecting every problem instead of stopping at the first."""

    def __init__(self, raw: Any) -> None:
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        self.problems: list[Problem] = []
        if not isinstance(raw, dict):
            self.problems.append(Problem("", 'A record is a JSON object, like {"external_id": …}.'))

    def fail(self, name: str, message: str) -> None:
        self.problems.append(Problem(name, message))

    def text(self, name: str, max_length: int, required: bool = True, default: str = "") -> str:
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, "is required.")
            return default
        if not isinstance(value, str):
            self.fail(name, "must be a string.")
            return default
        value = value.strip()
        if not value.isprintable():
            self.fail(name, "must not hold control characters (line breaks, tabs, NUL).")
        if len(value) > max_length:
            self.fail(name, f"is {len(value)} characters long; at most {max_length} are allowed.")
        return value[:max_length]

    def external_id(self, name: str = "external_id") -> str:
        value = self.text(name, 100)
        if value and not _EXTERNAL_ID.fullmatch(value):
            self.fail(name, "must be 1–100 printable ASCII characters without spaces.")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.raw.get(name, default)
        if value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)} (got {str(value)[:40]!r}).")
            return default
        return str(value)

    def flag(self, name: str) -> bool | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(name, "must be true or false.")
            return None
        return value

    def email(self, name: str, value: Any = None) -> str:
        value = self.raw.get(name) if value is None else value
        if not isinstance(value, str) or not value.strip():
            self.fail(name, "is required: a mailbox address like name@example.jp.")
            return ""
        address = value.strip().lower()
        try:
            validate_email(address)
        except ValidationError:
            self.fail(name, f"{_shown(value)} is not a mailbox address (like name@example.jp).")
        return address

    def moment(self, name: str, required: bool = False) -> datetime | None:
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, "is required: a time like 2026-12-01T09:30:00+09:00.")
            return None
        if not isinstance(value, str):
            self.fail(name, "must be an ISO 8601 time, like 2026-12-01T09:30:00+09:00.")
            return None
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(name, f"{_shown(value)} is not an ISO 8601 time (like 2026-12-01T09:30:00+09:00).")
            return None
        if parsed.tzinfo is None:
            self.fail(name, "needs a time zone, like +09:00 or Z.")
            return None
        return parsed.astimezone(UTC)

    def done(self) -> None:
        if self.problems:
            raise Refused(self.problems)


def _shown(value: Any) -> str:
    return repr(str(value)[:60])


def seller(raw: Any) -> SellerRecord:
    read = _Reader(raw)
    external_id = read.external_id()
    name = read.text("name", 200)
    users: list[SellerUserRecord] = []
    given = read.raw.get("users")
    if not isinstance(given, list) or not given:
        read.fail("users", 'is required: a list of the shop\'s people, one of them with "owner": true.')
        given = []
    if len(given) > 100:
        read.fail("users", f"lists {len(given)} people; at most 100 per shop.")
        given = given[:100]
    for i, person in enumerate(given):
        sub = _Reader(person)
        email = sub.email("email")
        user = SellerUserRecord(
            email=email,
            name=sub.text("name", 150, required=False, default=email.partition("@")[0]),
            language=sub.choice("language", LANGUAGES, "ja"),
            owner=bool(sub.flag("owner")),
            external_id=sub.external_id() if sub.raw.get("external_id") is not None else None,
        )
        read.problems.extend(Problem(f"users[{i}].{p.field}".rstrip("."), p.message) for p in sub.problems)
        users.append(user)
    owners = sum(u.owner for u in users)
    if given and owners != 1:
        read.fail("users", f'must name exactly one owner ("owner": true); {owners} do.')
    emails = [u.email for u in users]
    if len(set(emails)) != len(emails):
        read.fail("users", "lists an address twice.")
    ids = [u.external_id for u in users if u.external_id]
    if len(set(ids)) != len(ids):
        read.fail("users", "gives one external_id to two people.")
    notify: tuple[str, ...] | None = None
    if "notification_emails" in read.raw:
        listed = read.raw["notification_emails"]
        if not isinstance(listed, list):
            read.fail("notification_emails", "must be a list of addresses (an empty list: the owner's).")
        else:
            notify = tuple(read.email(f"notification_emails[{i}]", a) for i, a in enumerate(listed[:20]))
    support = read.flag("fba_product_support")
    read.done()
    return SellerRecord(external_id, name, tuple(users), notify, support)


def buyer(raw: Any) -> BuyerRecord:
    read = _Reader(raw)
    record = BuyerRecord(
        external_id=read.external_id(),
        email=read.email("email"),
        name=read.text("name", 150),
        language=read.choice("language", LANGUAGES, "ja"),
        is_mobile=read.flag("is_mobile"),
    )
    read.done()
    return record


def _product_id(read: _Reader, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        read.fail(name, "is required.")
        return ""
    found = identifiers.product_id(value.strip())
    if found is None:
        read.fail(
            name, f"{_shown(value)} is not a product ID of this marketplace (MARKETMSG_PRODUCT_ID_PATTERN)."
        )
        return ""
    return found


def product(raw: Any) -> ProductRecord:
    read = _Reader(raw)
    record = ProductRecord(
        _product_id(read, "product_id", read.raw.get("product_id")), read.text("title", 300)
    )
    read.done()
    return record


def order(raw: Any) -> OrderRecord:
    read = _Reader(raw)
    order_id = read.text("order_id", 64)
    if order_id and not identifiers.is_order_id(order_id):
        read.fail(
            "order_id",
            f"{_shown(order_id)} is not an order ID of this marketplace (MARKETMSG_ORDER_ID_PATTERN).",
        )
    seller_id = read.external_id("seller")
    buyer_id = read.external_id("buyer")
    ordered_at = read.moment("ordered_at", required=True)
    status = read.choice("status", STATUSES, "placed")
    times = {}
    for name in ("shipped_at", "delivered_at", "cancelled_at", "returned_at"):
        moment = read.moment(name)
        if moment is not None:
            times[name] = moment
    tracking = read.raw.get("tracking") or {}
    if not isinstance(tracking, dict):
        read.fail("tracking", 'must be an object like {"carrier": "ヤマト運輸", "number": "1234-5678-9012"}.')
        tracking = {}
    carrier = _Reader(tracking).text("carrier", 100, required=False)
    number = _Reader(tracking).text("number", 100, required=False)
    items = _items(read)
    fulfillment = read.choice("fulfillment", FULFILMENTS, "MFN")
    read.done()
    assert ordered_at is not None
    return OrderRecord(
        order_id, seller_id, buyer_id, ordered_at, status, times, fulfillment, carrier, number, items
    )


def _items(read: _Reader) -> tuple[ItemRecord, ...]:
    given = read.raw.get("items")
    if not isinstance(given, list) or not given:
        read.fail("items", 'is required: a list of {"product_id", "title", "quantity"}.')
        return ()
    if len(given) > MAX_ITEMS:
        read.fail("items", f"lists {len(given)} items; at most {MAX_ITEMS} per order.")
    items = []
    for i, raw in enumerate(given[:MAX_ITEMS]):
        sub = _Reader(raw)
        quantity = sub.raw.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 100_000:
            sub.fail("quantity", "must be a whole number from 1 to 100000.")
            quantity = 1
        item = ItemRecord(
            _product_id(sub, "product_id", sub.raw.get("product_id")), sub.text("title", 300), quantity
        )
        read.problems.extend(Problem(f"items[{i}].{p.field}".rstrip("."), p.message) for p in sub.problems)
        items.append(item)
    return tuple(items)


READERS: dict[str, Callable[[Any], Record]] = {
    "seller": seller,
    "buyer": buyer,
    "product": product,
    "order": order,
}


def key_of(kind: str, raw: Any) -> str:
    """The record's key as given (for answers about a record that could not be read)."""
    if not isinstance(raw, dict):
        return ""
    name = {"product": "product_id", "order": "order_id"}.get(kind, "external_id")
    value = raw.get(name)
    return str(value)[:100] if value is not None else ""
