"""Seeding a consistent marketplace in bulk: for demos, tests and benchmarks.

Rows get explicit primary keys so that related rows can be built without reading anything back,
and are written with bulk inserts in large transactions; progress goes to a callback.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from marketmsg.accounts.models import Buyer, SellerAccount, SellerUser, User
from marketmsg.addresses.models import RelayAddress, SenderAddress, SenderAddressChange
from marketmsg.conversations.models import Conversation, Message
from marketmsg.delivery.models import Delivery
from marketmsg.demo import personas
from marketmsg.orders.models import Order, OrderItem

BATCH = 5000
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


def _next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1


def _insert(model: type[models.Model], rows: Iterable[models.Model], total: int, label: str,
            progress: Progress) -> int:
    done = 0
    batch: list[models.Model] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH * 10:
            done += _flush(model, batch)
            progress(label, done, total)
    done += _flush(model, batch)
    progress(label, done, total)
    return done


def _flush(model: type[models.Model], batch: list[models.Model]) -> int:
    if not batch:
        return 0
    with transaction.atomic():
        model.objects.bulk_create(batch, batch_size=BATCH)
    count = len(batch)
    batch.clear()
    return count


def _reset_sequences(models_: list[type[models.Model]]) -> None:
    """Explicit IDs leave PostgreSQL's sequences behind; move them past the new rows."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )


def _asin(rng: random.Random) -> str:
    return "B0" + "".join(rng.choice(ASIN_CHARS) for _ in range(8))


def seed(
    sellers: int,
    buyers: int,
    orders: int,
    messages: int = 0,
    rng_seed: int = 1,
    password: str = "marketmsg",
    mobile_share: float = 0.2,
    progress: Progress = lambda label, done, total: None,
) -> SeedResult:
    started = time.monotonic()
    rng = random.Random(rng_seed)
    result = SeedResult(password=password)
    password_hash = make_password(password)  # one hash for every seeded person: hashing is slow
    now = timezone.now()
    user_id, account_id, buyer_id = _next_id(User), _next_id(SellerAccount), _next_id(Buyer)
    # Seeding into a database that already has people: keep the new addresses unique.
    tag = "" if user_id == 1 else f"-{rng_seed}x{user_id}"

    # --- sellers -----------------------------------------------------------------------------
    users: list[User] = []
    accounts: list[SellerAccount] = []
    members: list[SellerUser] = []
    senders: list[SenderAddress] = []
    for i in range(sellers):
        account = SellerAccount(id=account_id + i, name=f"{rng.choice(personas.SHOPS)} {i + 1}", created_at=now)
        accounts.append(account)
        domain = f"shop{i + 1}{tag}.example.com"
        emails = [f"owner@{domain}"] + [f"cs{j}@{domain}" for j in range(1, rng.randint(0, 2) + 1)]
        family, kanji = rng.choice(personas.FAMILY)
        for j, email in enumerate(emails):
            user = User(id=user_id + len(users), email=email, name=f"{kanji} ({family}) {account.name}",
                        role=User.Role.SELLER, password=password_hash, date_joined=now)
            users.append(user)
            members.append(SellerUser(account_id=account.id, user_id=user.id, is_owner=j == 0))
            senders.append(SenderAddress(account_id=account.id, email=email,
                                         state=SenderAddress.State.APPROVED, created_at=now, updated_at=now))
        result.sellers.append({"id": account.id, "name": account.name, "owner_email": emails[0],
                               "user_emails": emails})

    # --- buyers ------------------------------------------------------------------------------
    buyer_rows: list[Buyer] = []
    buyer_emails: dict[int, str] = {}
    for i in range(buyers):
        (family, fkanji), (given, gkanji) = rng.choice(personas.FAMILY), rng.choice(personas.GIVEN)
        mobile = rng.random() < mobile_share
        domain = rng.choice(MOBILE_DOMAINS if mobile else PC_DOMAINS)
        email = f"{given}.{family.lower()}.{i + 1}{tag}@{domain}"
        user = User(id=user_id + len(users), email=email, name=f"{fkanji} {gkanji}", role=User.Role.BUYER,
                    password=password_hash, date_joined=now)
        users.append(user)
        buyer = Buyer(id=buyer_id + i, user_id=user.id, is_mobile=mobile)
        buyer_rows.append(buyer)
        buyer_emails[buyer.id] = email
        result.buyers.append({"id": buyer.id, "name": user.name, "email": email, "mobile": mobile})
    staff = User(id=user_id + len(users), email=f"staff{tag}@{settings.RELAY_DOMAIN}", name="サポート担当 Support",
                 role=User.Role.STAFF, password=password_hash, date_joined=now, is_staff=True)
    users.append(staff)
    result.staff.append({"email": staff.email})

    _insert(User, users, len(users), "users", progress)
    _insert(SellerAccount, accounts, len(accounts), "seller accounts", progress)
    _insert(SellerUser, members, len(members), "seller users", progress)
    _insert(SenderAddress, senders, len(senders), "approved sender addresses", progress)
    _insert(
        SenderAddressChange,
        (SenderAddressChange(sender_id=s.pk, to_state=s.state, changed_at=now, note="seeded")
         for s in SenderAddress.objects.filter(account_id__gte=account_id).only("id", "state")),
        len(senders), "sender history", progress,
    )
    _insert(Buyer, buyer_rows, len(buyer_rows), "buyers", progress)

    # --- orders, items and relay addresses ---------------------------------------------------
    order_id_start, item_id_start = _next_id(Order), _next_id(OrderItem)
    pairs: dict[tuple[int, int], tuple[str, str]] = {}
    order_rows: list[Order] = []
    items: list[OrderItem] = []
    mobile_of = {b.id: b.is_mobile for b in buyer_rows}
    for i in range(orders):
        seller_id = account_id + rng.randrange(sellers)
        buyer = buyer_id + rng.randrange(buyers)
        oid = order_id_start + i
        order_number = f"{rng.randint(249, 503):03d}-{oid % 10_000_000:07d}-{rng.randint(0, 9_999_999):07d}"
        ordered_at = now - timedelta(seconds=rng.randint(0, 120 * 86400))
        order = Order(id=oid, order_id=order_number, seller_id=seller_id, buyer_id=buyer,
                      fulfillment="FBA" if rng.random() < 0.3 else "MFN", ordered_at=ordered_at)
        order_rows.append(order)
        asins = [_asin(rng) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        for asin in asins:
            items.append(OrderItem(id=item_id_start + len(items), order_id=oid, asin=asin,
                                   title=rng.choice(personas.PRODUCTS), quantity=rng.randint(1, 3)))
        if (buyer, seller_id) not in pairs:
            pairs[(buyer, seller_id)] = (secrets.token_hex(8), secrets.token_hex(8))
        buyer_local, seller_local = pairs[(buyer, seller_id)]
        domain = settings.MOBILE_RELAY_DOMAIN if mobile_of[buyer] else settings.RELAY_DOMAIN
        result.orders.append({
            "order_id": order_number, "seller_id": seller_id, "buyer_id": buyer,
            "fulfillment": order.fulfillment, "asins": asins,
            "buyer_relay_address": f"{buyer_local}@{domain}", "seller_relay_address": f"{seller_local}@{domain}",
        })
    _insert(Order, order_rows, len(order_rows), "orders", progress)
    _insert(OrderItem, items, len(items), "order items", progress)

    def relay_rows() -> Iterator[RelayAddress]:
        for (buyer, seller_id), (buyer_local, seller_local) in pairs.items():
            domain = settings.MOBILE_RELAY_DOMAIN if mobile_of[buyer] else settings.RELAY_DOMAIN
            yield RelayAddress(local_part=buyer_local, domain=domain, buyer_id=buyer, seller_id=seller_id,
                               side=RelayAddress.Side.BUYER, created_at=now)
            yield RelayAddress(local_part=seller_local, domain=domain, buyer_id=buyer, seller_id=seller_id,
                               side=RelayAddress.Side.SELLER, created_at=now)

    _insert(RelayAddress, relay_rows(), 2 * len(pairs), "relay addresses", progress)

    counts = _seed_history(rng, order_rows, buyer_emails, result, messages, now, progress)
    _reset_sequences([User, SellerAccount, Buyer, Order, OrderItem, Conversation, Message, Delivery])
    result.counts = {
        "users": len(users), "sellers": sellers, "buyers": buyers, "orders": orders, "order_items": len(items),
        "relay_addresses": 2 * len(pairs), **counts,
    }
    result.seconds = time.monotonic() - started
    return result


def _plan(rng: random.Random, order_rows: list[Order], messages: int) -> list[tuple[Order, int]]:
    """Which orders get a conversation and how many messages each: exactly ``messages`` in all."""
    count = min(len(order_rows), max(1, messages // 3))
    sizes = [messages // count] * count
    for k in range(messages - sum(sizes)):
        sizes[k] += 1
    for _ in range(count // 2):  # uneven conversations, same total
        a, b = rng.randrange(count), rng.randrange(count)
        moved = rng.randint(0, sizes[a] - 1)
        sizes[a] -= moved
        sizes[b] += moved
    chosen = rng.sample(order_rows, count)
    return [(order, size) for order, size in zip(chosen, sizes, strict=True) if size > 0]


def _seed_history(rng: random.Random, order_rows: list[Order], buyer_emails: dict[int, str],
                  result: SeedResult, messages: int, now: Any, progress: Progress) -> dict[str, int]:
    """A stored history of ``messages`` messages across conversations about the orders."""
    if not messages or not order_rows:
        return {"conversations": 0, "messages": 0, "deliveries": 0}
    owners = {s["id"]: s["owner_email"] for s in result.sellers}
    conversation_id, message_id, delivery_id = _next_id(Conversation), _next_id(Message), _next_id(Delivery)
    conversations: list[Conversation] = []
    rows: list[Message] = []
    deliveries: list[Delivery] = []
    for order, size in _plan(rng, order_rows, messages):
        cid = conversation_id + len(conversations)
        start = max(order.ordered_at, now - timedelta(days=90)) + timedelta(minutes=rng.randint(5, 600))
        moment = start
        for n in range(size):
            author = Message.Author.BUYER if n % 2 == 0 else Message.Author.SELLER
            moment = moment + timedelta(minutes=rng.randint(10, 60 * 30))
            if moment > now:
                moment = now - timedelta(seconds=rng.randint(1, 3600))
            subject, text = rng.choice(personas.BUYER_TEXTS)
            if author == Message.Author.SELLER:
                text = rng.choice(personas.SELLER_TEXTS)
            mid = message_id + len(rows)
            rows.append(Message(
                id=mid, conversation_id=cid, author=author, channel=rng.choice(("mail", "web", "web")),
                state=Message.State.RELAYED,
                sender_email=buyer_emails[order.buyer_id] if author == "buyer" else owners[order.seller_id],
                subject=f"{subject} (注文番号 {order.order_id})", text=text,
                needs_reply=author == "buyer" and n == size - 1,
                outbound_message_id=f"<{secrets.token_hex(12)}@{settings.RELAY_DOMAIN}>", created_at=moment,
                has_attachments=rng.random() < 0.05,
            ))
            recipient = owners[order.seller_id] if author == "buyer" else buyer_emails[order.buyer_id]
            deliveries.append(Delivery(id=delivery_id + len(deliveries), message_id=mid, recipient=recipient,
                                       state=Delivery.State.DELIVERED, attempts=1, next_attempt_at=moment,
                                       created_at=moment, finished_at=moment, last_reply="250 2.0.0 OK"))
        conversations.append(Conversation(id=cid, seller_id=order.seller_id, buyer_id=order.buyer_id,
                                          order_id=order.id, created_at=start, last_message_at=moment))
    _insert(Conversation, conversations, len(conversations), "conversations", progress)
    _insert(Message, rows, len(rows), "messages", progress)
    _insert(Delivery, deliveries, len(deliveries), "deliveries", progress)
    return {"conversations": len(conversations), "messages": len(rows), "deliveries": len(deliveries)}
