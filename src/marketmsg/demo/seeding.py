"""Seeding a consistent marketplace in bulk: for demos, tests and benchmarks.

Rows get explicit primary keys so that related rows are built without reading anything back, and
are generated in chunks and written with bulk inserts (COPY on PostgreSQL), so that a million
orders need neither millions of model instances nor their memory. Orders are streamed to an
``on_order`` callback (the JSON writer) instead of being kept.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from marketmsg.accounts.models import Buyer, SellerAccount, SellerUser, User
from marketmsg.addresses.models import RelayAddress, SenderAddress, SenderAddressChange
from marketmsg.bulk import FastSQLiteWrites, insert, next_id, reset_sequences
from marketmsg.conversations import record, tally
from marketmsg.conversations.models import Conversation, Message
from marketmsg.delivery.models import Delivery
from marketmsg.demo import personas
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
    with FastSQLiteWrites():
        seeder = _Seeder(random.Random(rng_seed), result, progress, password)
        seeder.people(sellers, buyers, mobile_share)
        seeder.orders(orders, on_order or result.orders.append, busy_seller_orders)
        seeder.history(messages)
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
        self.seller_ids: list[int] = []
        self.owner_of: dict[int, str] = {}
        self.buyer_ids: list[int] = []
        self.buyer_email: dict[int, str] = {}
        self.buyer_mobile: dict[int, bool] = {}
        self.order_list: list[_Order] = []
        self.counts = result.counts

    def _count(self, label: str, total: int) -> Callable[[int], None]:
        return lambda done: self.progress(label, done, total)

    # --- people ----------------------------------------------------------------------------------
    def people(self, sellers: int, buyers: int, mobile_share: float) -> None:
        rng, now = self.rng, self.now
        user_id, account_id, buyer_id = self.first_user, next_id(SellerAccount), next_id(Buyer)
        sender_id = next_id(SenderAddress)
        users: list[tuple[Any, ...]] = []
        accounts: list[tuple[Any, ...]] = []
        members: list[tuple[Any, ...]] = []
        senders: list[tuple[Any, ...]] = []
        for i in range(sellers):
            aid = account_id + i
            name = f"{rng.choice(personas.SHOPS)} {i + 1}"
            accounts.append((aid, name, "", now))
            domain = f"shop{i + 1}{self.tag}.example.com"
            emails = [f"owner@{domain}"] + [f"cs{j}@{domain}" for j in range(1, rng.randint(0, 2) + 1)]
            family, kanji = rng.choice(personas.FAMILY)
            for j, email in enumerate(emails):
                uid = user_id + len(users)
                users.append(self._user(uid, email, f"{kanji} ({family}) {name}", User.Role.SELLER))
                members.append((aid, uid, j == 0))
                senders.append(
                    (sender_id + len(senders), aid, email, SenderAddress.State.APPROVED, False, now, now)
                )
            self.seller_ids.append(aid)
            self.owner_of[aid] = emails[0]
            self.result.sellers.append(
                {"id": aid, "name": name, "owner_email": emails[0], "user_emails": emails}
            )
        buyer_rows: list[tuple[Any, ...]] = []
        for i in range(buyers):
            (family, fkanji), (given, gkanji) = rng.choice(personas.FAMILY), rng.choice(personas.GIVEN)
            mobile = rng.random() < mobile_share
            domain = rng.choice(MOBILE_DOMAINS if mobile else PC_DOMAINS)
            email = f"{given}.{family.lower()}.{i + 1}{self.tag}@{domain}"
            uid = user_id + len(users)
            users.append(self._user(uid, email, f"{fkanji} {gkanji}", User.Role.BUYER))
            bid = buyer_id + i
            buyer_rows.append((bid, uid, mobile))
            self.buyer_ids.append(bid)
            self.buyer_email[bid] = email
            self.buyer_mobile[bid] = mobile
            self.result.buyers.append({"id": bid, "name": users[-1][2], "email": email, "mobile": mobile})
        staff_email = f"staff{self.tag}@{settings.RELAY_DOMAIN}"
        users.append(
            self._user(user_id + len(users), staff_email, "サポート担当 Support", User.Role.STAFF, True)
        )
        self.result.staff.append({"email": staff_email})

        user_fields = (
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
        insert(User, user_fields, users, self._count("users", len(users)))
        insert(
            SellerAccount,
            ("id", "name", "notification_emails", "created_at"),
            accounts,
            self._count("seller accounts", len(accounts)),
        )
        insert(
            SellerUser, ("account", "user", "is_owner"), members, self._count("seller users", len(members))
        )
        insert(
            SenderAddress,
            ("id", "account", "email", "state", "is_shared", "created_at", "updated_at"),
            senders,
            self._count("approved sender addresses", len(senders)),
        )
        insert(
            SenderAddressChange,
            ("sender", "from_state", "to_state", "changed_at", "note"),
            ((row[0], "", SenderAddress.State.APPROVED, now, "seeded") for row in senders),
            self._count("sender history", len(senders)),
        )
        insert(Buyer, ("id", "user", "is_mobile"), buyer_rows, self._count("buyers", len(buyer_rows)))
        self.counts.update(users=len(users), sellers=sellers, buyers=buyers)

    def _user(self, uid: int, email: str, name: str, role: str, staff: bool = False) -> tuple[Any, ...]:
        return (uid, email, name, role, self.password_hash, True, staff, False, self.now, "Asia/Tokyo")

    # --- orders ----------------------------------------------------------------------------------
    def orders(self, count: int, on_order: Callable[[dict[str, Any]], object], busy: int = 0) -> None:
        """``busy`` of the orders go to the first seller: a big shop, as benchmarks need one."""
        if not count:
            self.counts.update(orders=0, order_items=0, relay_addresses=0)
            return
        rng, now = self.rng, self.now
        order_id, item_id = next_id(Order), next_id(OrderItem)
        pairs: set[tuple[int, int]] = set()
        relay_local: dict[tuple[int, int, str], str] = {}
        totals = {"orders": 0, "items": 0, "relays": 0}
        for start in range(0, count, CHUNK):
            order_rows: list[tuple[Any, ...]] = []
            item_rows: list[tuple[Any, ...]] = []
            relay_rows: list[tuple[Any, ...]] = []
            for i in range(start, min(start + CHUNK, count)):
                oid = order_id + i
                seller = self.seller_ids[0] if i < busy else rng.choice(self.seller_ids)
                buyer = rng.choice(self.buyer_ids)
                number = f"{rng.randint(249, 503):03d}-{oid % 10_000_000:07d}-{rng.randint(0, 9_999_999):07d}"
                ordered_at = now - timedelta(seconds=rng.randint(0, 120 * 86400))
                fulfillment = "FBA" if rng.random() < 0.3 else "MFN"
                order_rows.append((oid, number, seller, buyer, fulfillment, ordered_at))
                self.order_list.append(_Order(oid, seller, buyer, ordered_at, number))
                asins = [_asin(rng) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
                for asin in asins:
                    item_rows.append(
                        (
                            item_id + totals["items"] + len(item_rows),
                            oid,
                            asin,
                            rng.choice(personas.PRODUCTS),
                            rng.randint(1, 3),
                        )
                    )
                domain = settings.MOBILE_RELAY_DOMAIN if self.buyer_mobile[buyer] else settings.RELAY_DOMAIN
                if (buyer, seller) not in pairs:
                    pairs.add((buyer, seller))
                    for side in (RelayAddress.Side.BUYER, RelayAddress.Side.SELLER):
                        local = secrets.token_hex(8)
                        relay_local[(buyer, seller, side)] = local
                        relay_rows.append((local, domain, buyer, seller, side, True, now))
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
            totals["orders"] += insert(
                Order, ("id", "order_id", "seller", "buyer", "fulfillment", "ordered_at"), order_rows
            )
            totals["items"] += insert(OrderItem, ("id", "order", "asin", "title", "quantity"), item_rows)
            totals["relays"] += insert(
                RelayAddress,
                ("local_part", "domain", "buyer", "seller", "side", "is_active", "created_at"),
                relay_rows,
            )
            self.progress("orders, items, relay addresses", totals["orders"], count)
        self.counts.update(
            orders=totals["orders"], order_items=totals["items"], relay_addresses=totals["relays"]
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
        count = min(len(self.order_list), max(1, messages // 3))
        sizes = [messages // count] * count
        for k in range(messages - sum(sizes)):
            sizes[k] += 1
        for _ in range(count // 2):  # uneven conversations, same total
            a, b = rng.randrange(count), rng.randrange(count)
            moved = rng.randint(0, sizes[a] - 1)
            sizes[a] -= moved
            sizes[b] += moved
        chosen = rng.sample(range(len(self.order_list)), count)
        return ((self.order_list[i], size) for i, size in zip(chosen, sizes, strict=True) if size > 0)

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
                    rng.random() < 0.05,
                    False,
                    from_buyer and n == size - 1,
                    "",
                    f"<{secrets.token_hex(12)}@{settings.RELAY_DOMAIN}>",
                    "",
                    0,
                    moment,
                    None,
                    "",
                )
            )
            if not from_buyer:  # this answer fixes the response time of the buyer's message before
                question = list(rows[-2])
                question[RESPONSE] = max(0, int((moment - question[CREATED]).total_seconds()))
                rows[-2] = tuple(question)
            sealed = list(rows[-1])
            sealed[SEALED] = _seal(previous, sealed)
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
)
CREATED, RESPONSE, SEALED = (
    MESSAGE_FIELDS.index(f) for f in ("created_at", "response_seconds", "record_hash")
)


def _seal(previous: str, row: list[Any]) -> str:
    """The seeded message's link in the conversation's tamper-evident record, as post_message
    would have written it."""
    return record.seal(previous, record.Content.of(dict(zip(MESSAGE_FIELDS, row, strict=True)), ()))


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
