"""Seeding a consistent marketplace in bulk: for demos, tests and benchmarks.

The marketplace itself (sellers with their people, buyers, orders) is written as the records an
operator would send and goes in through ``marketmsg import`` (integration.importer): the demo's
seeder is one more client of that door, not a door of its own. What an operator does not send is
added after it: the shared demo password, a staff member, relay addresses up front (so that the
description can list them) and a stored message history, written with bulk inserts (COPY on
PostgreSQL) and explicit primary keys. Orders are streamed to an ``on_order`` callback (the JSON
writer) instead of being kept.
"""

from __future__ import annotations

import json
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from marketmsg.accounts.models import Buyer, SellerAccount, SellerUser, User
from marketmsg.addresses.models import RelayAddress, SenderAddress, SenderAddressChange
from marketmsg.bulk import FastSQLiteWrites, insert, next_id, reset_sequences
from marketmsg.conversations import record
from marketmsg.conversations.models import Conversation, Message, Template
from marketmsg.delivery.models import Delivery
from marketmsg.demo import personas
from marketmsg.integration import importer
from marketmsg.metrics import tally
from marketmsg.orders.models import Order, OrderItem

CHUNK = 20_000
MOBILE_DOMAINS = ["docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "i.softbank.jp", "au.com", "ymobile.ne.jp"]
PC_DOMAINS = ["example.jp", "example.com", "example.net", "mail.example.jp"]
ASIN_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

Progress = Callable[[str, int, int], None]


@dataclass
class SeedResult:
    password: str
    sellers: list[dict[str, Any]] = field(default_factory=list)
    buyers: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    staff: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class _Order:
    id: int
    seller_id: int
    buyer_id: int
    ordered_at: datetime
    number: str
    fulfillment: str = "MFN"


def _write(out: TextIO, record: dict[str, Any]) -> None:
    out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _refused(refusal: Any) -> None:
    raise RuntimeError(f"the seeder wrote a record the importer refuses: {refusal}")


TEMPLATE_SHOPS = 1000  # shops that get the sample templates (a seed of millions stays quick)
USER_FIELDS = (
    "id",
    "email",
    "name",
    "role",
    "password",
    "is_active",
    "is_staff",
    "is_superuser",
    "date_joined",
    "time_zone",
)


def _asin(rng: random.Random) -> str:
    return "B0" + "".join(rng.choice(ASIN_CHARS) for _ in range(8))


def _no_progress(label: str, done: int, total: int) -> None:
    return None


def seed(
    sellers: int,
    buyers: int,
    orders: int,
    messages: int = 0,
    rng_seed: int = 1,
    password: str = "marketmsg",
    mobile_share: float = 0.2,
    busy_seller_orders: int = 0,
    progress: Progress = _no_progress,
    on_order: Callable[[dict[str, Any]], object] | None = None,
) -> SeedResult:
    """Create the marketplace; orders go to ``on_order`` if given, else into the result."""
    started = time.monotonic()
    result = SeedResult(password=password)
    with FastSQLiteWrites(), tempfile.TemporaryDirectory(prefix="seed-") as spool:
        seeder = _Seeder(random.Random(rng_seed), result, progress, password)
        records = Path(spool) / "marketplace.jsonl"
        with records.open("w", encoding="utf-8") as out:
            seeder.people(sellers, buyers, mobile_share, out)
            seeder.order_records(orders, out, busy_seller_orders)
        seeder.planned_records = sellers + buyers + orders
        seeder.import_file(records)
        seeder.orders(on_order or result.orders.append)
        seeder.history(messages)
        seeder.templates()
        if messages:
            progress("response-time tally", 0, 1)
            tally.rebuild()  # the history was written in bulk, past post_message
            progress("response-time tally", 1, 1)
        reset_sequences(
            [
                User,
                SellerAccount,
                SellerUser,
                SenderAddress,
                SenderAddressChange,
                Buyer,
                Order,
                OrderItem,
                RelayAddress,
                Conversation,
                Message,
                Delivery,
            ]
        )
    result.seconds = time.monotonic() - started
    return result


class _Seeder:
    def __init__(self, rng: random.Random, result: SeedResult, progress: Progress, password: str) -> None:
        self.rng, self.result, self.progress = rng, result, progress
        self.password_hash = make_password(password)  # one hash for everyone: hashing is slow by design
        self.now = timezone.now()
        self.first_user = next_id(User)
        # Seeding into a database that already has people: keep the new addresses unique.
        self.tag = "" if self.first_user == 1 else f"-{rng.randrange(10**6)}x{self.first_user}"
        self.seller_keys: list[str] = []  # the marketplace's IDs (external_id) of the records
        self.buyer_keys: list[str] = []
        # Orders as written to the import file: (seller index, buyer index, time, number, fulfilment, ASINs).
        self.planned: list[tuple[int, int, datetime, str, str, list[str]]] = []
        self.planned_records = 0
        self.seller_ids: list[int] = []
        self.owner_of: dict[int, str] = {}
        self.buyer_ids: list[int] = []
        self.buyer_email: dict[int, str] = {}
        self.buyer_mobile: dict[int, bool] = {}
        self.order_list: list[_Order] = []
        self.counts = result.counts

    def _count(self, label: str, total: int) -> Callable[[int], None]:
        return lambda done: self.progress(label, done, total)

    # --- people and orders: written as the marketplace's records, then imported -------------------
    def people(self, sellers: int, buyers: int, mobile_share: float, out: TextIO) -> None:
        """Seller and buyer records for the import file (``marketmsg import`` reads the same)."""
        rng = self.rng
        for i in range(sellers):
            name = f"{rng.choice(personas.SHOPS)} {i + 1}"
            domain = f"shop{i + 1}{self.tag}.example.com"
            helpers = rng.randint(0, 2) or (1 if i == 0 else 0)  # the first shop always has a helper
            emails = [f"owner@{domain}"] + [f"cs{j}@{domain}" for j in range(1, helpers + 1)]
            family, kanji = rng.choice(personas.FAMILY)
            key = f"seed{self.tag}-S{i + 1}"
            users = [  # each person's external_id is the subject the marketplace's sign-in names them by
                {
                    "email": email,
                    "name": f"{kanji} ({family}) {name}",
                    "owner": j == 0,
                    "external_id": f"{key}-U{j + 1}",
                }
                for j, email in enumerate(emails)
            ]
            _write(out, {"type": "seller", "external_id": key, "name": name, "users": users})
            self.seller_keys.append(key)
            self.result.sellers.append(
                {
                    "key": key,
                    "name": name,
                    "owner_email": emails[0],
                    "owner_subject": f"{key}-U1",
                    "user_emails": emails,
                }
            )
        for i in range(buyers):
            (family, fkanji), (given, gkanji) = rng.choice(personas.FAMILY), rng.choice(personas.GIVEN)
            mobile = rng.random() < mobile_share
            domain = rng.choice(MOBILE_DOMAINS if mobile else PC_DOMAINS)
            email = f"{given}.{family.lower()}.{i + 1}{self.tag}@{domain}"
            key = f"seed{self.tag}-B{i + 1}"
            name = f"{fkanji} {gkanji}"
            _write(
                out, {"type": "buyer", "external_id": key, "email": email, "name": name, "is_mobile": mobile}
            )
            self.buyer_keys.append(key)
            self.result.buyers.append({"key": key, "name": name, "email": email, "mobile": mobile})
        self.counts.update(sellers=sellers, buyers=buyers)

    def order_records(self, count: int, out: TextIO, busy: int = 0) -> None:
        """``busy`` of the orders go to the first seller: a big shop, as benchmarks need one."""
        rng, now = self.rng, self.now
        first = next_id(Order)
        for i in range(count):
            seller = 0 if i < busy else rng.randrange(len(self.seller_keys))
            buyer = rng.randrange(len(self.buyer_keys))
            number = (
                f"{rng.randint(249, 503):03d}-{(first + i) % 10_000_000:07d}-{rng.randint(0, 9_999_999):07d}"
            )
            ordered_at = now - timedelta(seconds=rng.randint(0, 120 * 86400))
            fulfillment = "FBA" if rng.random() < 0.3 else "MFN"
            items = [
                {
                    "product_id": _asin(rng),
                    "title": rng.choice(personas.PRODUCTS),
                    "quantity": rng.randint(1, 3),
                }
                for _ in range(rng.choice((1, 1, 1, 2, 3)))
            ]
            _write(
                out,
                {
                    "type": "order",
                    "order_id": number,
                    "seller": self.seller_keys[seller],
                    "buyer": self.buyer_keys[buyer],
                    "ordered_at": ordered_at.isoformat(),
                    "status": "delivered" if ordered_at < now - timedelta(days=7) else "shipped",
                    "shipped_at": min(ordered_at + timedelta(hours=rng.randint(4, 48)), now).isoformat(),
                    "fulfillment": fulfillment,
                    "items": items,
                    **(
                        {"delivered_at": (ordered_at + timedelta(days=rng.randint(2, 5))).isoformat()}
                        if ordered_at < now - timedelta(days=7)
                        else {}
                    ),
                },
            )
            self.planned.append(
                (seller, buyer, ordered_at, number, fulfillment, [str(x["product_id"]) for x in items])
            )
            if i % CHUNK == 0:
                self.progress("orders planned", i, count)

    def import_file(self, path: Path) -> None:
        """Everything through the importer, as an operator's first day would be."""

        def imported(done: int, summary: Any) -> None:
            self.progress("imported (marketmsg import)", summary.records(), self.planned_records)

        summary = importer.run(path, on_refusal=_refused, progress=imported, again=True)
        self.progress("imported (marketmsg import)", summary.records(), self.planned_records)
        seller_ids = dict(
            SellerAccount.objects.filter(external_id__in=self.seller_keys).values_list("external_id", "id")
        )
        buyer_ids = dict(
            Buyer.objects.filter(external_id__in=self.buyer_keys).values_list("external_id", "id")
        )
        self.seller_ids = [seller_ids[key] for key in self.seller_keys]
        self.buyer_ids = [buyer_ids[key] for key in self.buyer_keys]
        for seller, key in zip(self.result.sellers, self.seller_keys, strict=True):
            seller["id"] = seller_ids[key]
            self.owner_of[seller_ids[key]] = seller["owner_email"]
        for buyer, key in zip(self.result.buyers, self.buyer_keys, strict=True):
            bid = buyer["id"] = buyer_ids[key]
            self.buyer_email[bid], self.buyer_mobile[bid] = buyer["email"], buyer["mobile"]
        emails = [e for s in self.result.sellers for e in s["user_emails"]] + [
            b["email"] for b in self.result.buyers
        ]
        for start in range(0, len(emails), CHUNK):  # the demo's shared password (the import sets none)
            User.objects.filter(email__in=emails[start : start + CHUNK]).update(password=self.password_hash)
        staff_email = f"staff{self.tag}@{settings.RELAY_DOMAIN}"
        supervisor_email = f"supervisor{self.tag}@{settings.RELAY_DOMAIN}"
        first = next_id(User)
        insert(
            User,
            USER_FIELDS,
            [
                self._user(first, staff_email, "サポート担当 Support", User.Role.STAFF, True),
                self._user(first + 1, supervisor_email, "監督者 Supervisor", User.Role.STAFF, True),
            ],
        )
        User.objects.filter(pk=first + 1).update(is_supervisor=True)
        self.result.staff.append({"email": staff_email})
        self.result.staff.append({"email": supervisor_email, "supervisor": True})
        self.counts.update(users=len(emails) + 2)

    def templates(self) -> None:
        """A few saved replies per shop (定型文), so that the picker has something to show."""
        rows = [
            Template(account_id=seller, name=name, text=text, updated_at=self.now)
            for seller in self.seller_ids[:TEMPLATE_SHOPS]
            for name, text in personas.TEMPLATES
        ]
        Template.objects.bulk_create(rows, ignore_conflicts=True)
        self.counts.update(templates=len(rows))

    def _user(self, uid: int, email: str, name: str, role: str, staff: bool = False) -> tuple[Any, ...]:
        return (uid, email, name, role, self.password_hash, True, staff, False, self.now, "Asia/Tokyo")

    def orders(self, on_order: Callable[[dict[str, Any]], object]) -> None:
        """The imported orders' relay addresses (created up front, so the description can list them)."""
        count = len(self.planned)
        if not count:
            self.counts.update(orders=0, order_items=0, relay_addresses=0)
            return
        order_ids: dict[str, int] = {}
        numbers = [p[3] for p in self.planned]
        for start in range(0, count, CHUNK):
            order_ids.update(
                Order.objects.filter(order_id__in=numbers[start : start + CHUNK]).values_list(
                    "order_id", "id"
                )
            )
        pairs: set[tuple[int, int]] = set(
            RelayAddress.objects.filter(
                side=RelayAddress.Side.BUYER, buyer_id__in=self.buyer_ids
            ).values_list("buyer_id", "seller_id")
        )
        relay_local: dict[tuple[int, int, str], str] = {}
        relay_rows: list[tuple[Any, ...]] = []
        for seller_index, buyer_index, ordered_at, number, fulfillment, asins in self.planned:
            seller, buyer = self.seller_ids[seller_index], self.buyer_ids[buyer_index]
            self.order_list.append(_Order(order_ids[number], seller, buyer, ordered_at, number, fulfillment))
            domain = settings.MOBILE_RELAY_DOMAIN if self.buyer_mobile[buyer] else settings.RELAY_DOMAIN
            if (buyer, seller) not in pairs:
                pairs.add((buyer, seller))
                for side in (RelayAddress.Side.BUYER, RelayAddress.Side.SELLER):
                    local = secrets.token_hex(8)
                    relay_local[(buyer, seller, side)] = local
                    relay_rows.append((local, domain, buyer, seller, side, True, self.now))
            on_order(
                {
                    "order_id": number,
                    "seller_id": seller,
                    "buyer_id": buyer,
                    "fulfillment": fulfillment,
                    "asins": asins,
                    "buyer_relay_address": f"{relay_local[(buyer, seller, 'buyer')]}@{domain}",
                    "seller_relay_address": f"{relay_local[(buyer, seller, 'seller')]}@{domain}",
                }
            )
        relays = insert(
            RelayAddress,
            ("local_part", "domain", "buyer", "seller", "side", "is_active", "created_at"),
            relay_rows,
            lambda done: self.progress("relay addresses", done, len(relay_rows)),
        )
        self.counts.update(
            orders=count, order_items=sum(len(p[5]) for p in self.planned), relay_addresses=relays
        )

    # --- message history -------------------------------------------------------------------------
    def history(self, messages: int) -> None:
        """A stored history of ``messages`` messages, each with its delivered delivery."""
        if not messages or not self.order_list:
            self.counts.update(conversations=0, messages=0, deliveries=0)
            return
        ids = {
            "conversation": next_id(Conversation),
            "message": next_id(Message),
            "delivery": next_id(Delivery),
        }
        conversations: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        deliveries: list[tuple[Any, ...]] = []
        done = {"conversations": 0, "messages": 0}

        def flush() -> None:
            done["conversations"] += insert(
                Conversation,
                ("id", "seller", "buyer", "order", "asin", "created_at"),
                conversations,
            )
            done["messages"] += insert(Message, MESSAGE_FIELDS, rows)
            insert(Delivery, DELIVERY_FIELDS, deliveries)
            conversations.clear()
            rows.clear()
            deliveries.clear()
            self.progress("message history", done["messages"], messages)

        for order, size in self._plan(messages):
            cid = ids["conversation"] + done["conversations"] + len(conversations)
            position = done["messages"] + len(rows)
            first, _ = self._conversation(order, size, cid, ids, position, rows, deliveries)
            conversations.append((cid, order.seller_id, order.buyer_id, order.id, "", first))
            if len(rows) >= CHUNK:
                flush()
        flush()
        self.counts.update(
            conversations=done["conversations"], messages=done["messages"], deliveries=done["messages"]
        )

    def _plan(self, messages: int) -> Iterator[tuple[_Order, int]]:
        """Which orders get a conversation and how many messages each: exactly ``messages`` in all."""
        rng = self.rng
        # Buyers of FBA orders write to the marketplace's customer service while the seller's
        # product support is off (the seeded default): their history is with the seller's own orders.
        own = [o for o in self.order_list if o.fulfillment == "MFN"] or self.order_list
        count = min(len(own), max(1, messages // 3))
        sizes = [messages // count] * count
        for k in range(messages - sum(sizes)):
            sizes[k] += 1
        for _ in range(count // 2):  # uneven conversations, same total
            a, b = rng.randrange(count), rng.randrange(count)
            moved = rng.randint(0, sizes[a] - 1)
            sizes[a] -= moved
            sizes[b] += moved
        chosen = rng.sample(range(len(own)), count)
        return ((own[i], size) for i, size in zip(chosen, sizes, strict=True) if size > 0)

    def _conversation(
        self,
        order: _Order,
        size: int,
        cid: int,
        ids: dict[str, int],
        offset: int,
        rows: list[tuple[Any, ...]],
        deliveries: list[tuple[Any, ...]],
    ) -> tuple[datetime, datetime]:
        rng, now = self.rng, self.now
        start = max(order.ordered_at, now - timedelta(days=90)) + timedelta(minutes=rng.randint(5, 600))
        moment = start
        previous = ""  # the conversation's record starts here
        subject, buyer_text = rng.choice(personas.BUYER_TEXTS)
        buyer_email, owner = self.buyer_email[order.buyer_id], self.owner_of[order.seller_id]
        for n in range(size):
            from_buyer = n % 2 == 0
            moment = min(moment + timedelta(minutes=rng.randint(10, 60 * 30)), now - timedelta(seconds=n + 1))
            mid = ids["message"] + offset + n
            rows.append(
                (
                    mid,
                    cid,
                    order.seller_id,
                    "buyer" if from_buyer else "seller",
                    rng.choice(("mail", "web", "web")),
                    "relayed",
                    buyer_email if from_buyer else owner,
                    f"{subject} (注文番号 {order.number})",
                    buyer_text if from_buyer else rng.choice(personas.SELLER_TEXTS),
                    "",
                    False,  # has_attachments: seeded messages carry no files, so no 📎
                    False,
                    from_buyer and n == size - 1,
                    "",
                    f"<{secrets.token_hex(12)}@{settings.RELAY_DOMAIN}>",
                    "",
                    0,
                    moment,
                    None,
                    "",
                    "",
                )
            )
            if not from_buyer:  # this answer fixes the response time of the buyer's message before
                question = list(rows[-2])
                question[RESPONSE] = max(0, int((moment - question[CREATED]).total_seconds()))
                rows[-2] = tuple(question)
            sealed = list(rows[-1])
            sealed[DIGEST], sealed[SEALED] = _seal(previous, sealed)
            previous = sealed[SEALED]
            rows[-1] = tuple(sealed)
            deliveries.append(
                (
                    ids["delivery"] + offset + n,
                    mid,
                    owner if from_buyer else buyer_email,
                    "delivered",
                    1,
                    moment,
                    "",
                    moment,
                    moment,
                    "250 2.0.0 OK",
                )
            )
        return start, moment


MESSAGE_FIELDS = (
    "id",
    "conversation",
    "seller",
    "author",
    "channel",
    "state",
    "sender_email",
    "subject",
    "text",
    "html",
    "has_attachments",
    "is_auto",
    "needs_reply",
    "incoming_message_id",
    "outbound_message_id",
    "raw_sha256",
    "raw_size",
    "created_at",
    "response_seconds",
    "record_hash",
    "content_digest",
)
CREATED, RESPONSE, SEALED, DIGEST = (
    MESSAGE_FIELDS.index(f) for f in ("created_at", "response_seconds", "record_hash", "content_digest")
)


def _seal(previous: str, row: list[Any]) -> tuple[str, str]:
    """The seeded message's digest and link in the conversation's tamper-evident record, as
    post_message would have written them."""
    return record.sealed(previous, record.Content.of(dict(zip(MESSAGE_FIELDS, row, strict=True)), ()))


DELIVERY_FIELDS = (
    "id",
    "message",
    "recipient",
    "state",
    "attempts",
    "next_attempt_at",
    "lease_owner",
    "created_at",
    "finished_at",
    "last_reply",
)
