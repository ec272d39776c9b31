"""Response-time page benchmark (SPEC F6): server time of a seller's performance page on a big
marketplace, target p95 ≤ 100 ms with 50,000 of the seller's messages in 3,000,000.

Run against the database ``make bench-lists`` seeds (3,000,000 messages). The busiest seller is
topped up to ``--seller-messages`` buyer messages over the last 90 days (once; later runs find
them), answered like a real shop: most within hours, some late, some still waiting. Then
``/performance/?days=7|30|90`` is requested ``--requests`` times through Django's whole request
path (middleware, session, view, queries, SVG chart, template) and the wall time recorded.

    MARKETMSG_DATABASE_URL=... python bench/metrics_bench.py [--requests 200] [--plans]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketmsg.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from marketmsg.accounts.models import SellerAccount, SellerUser  # noqa: E402
from marketmsg.conversations.models import Conversation, Message  # noqa: E402
from marketmsg.metrics import median, response_times, tally  # noqa: E402

WARMUP = 10
TOP_UP_TAG = "metrics-bench"


def busiest_seller() -> SellerAccount:
    top = (
        Message.objects.values("seller_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("seller_id", flat=True)
    )
    return SellerAccount.objects.get(pk=top[0])


def top_up(seller: SellerAccount, wanted: int, rng: random.Random) -> int:
    """Buyer messages of the last 90 days for ``seller`` until there are ``wanted``; returns how
    many were added. Response times: 80 % within 24 h (mostly a few hours), 12 % late, 8 % waiting."""
    now = timezone.now()
    since = now - timedelta(days=90)
    have = Message.objects.filter(seller=seller, author=Message.Author.BUYER, created_at__gte=since).count()
    missing = wanted - have
    if missing <= 0:
        return 0
    conversations = list(Conversation.objects.filter(seller=seller).values_list("id", flat=True)[:20_000])
    batch: list[Message] = []
    added = 0
    started = time.monotonic()
    while added < missing:
        created = since + timedelta(seconds=rng.uniform(0, 90 * 86400))
        roll = rng.random()
        if roll < 0.80:
            seconds = int(rng.lognormvariate(9.0, 0.9)) % 86_400
        elif roll < 0.92:
            seconds = 86_400 + int(rng.uniform(0, 4 * 86_400))
        else:
            seconds = None
        if seconds is not None and created + timedelta(seconds=seconds) > now:
            seconds = None
        batch.append(
            Message(
                conversation_id=rng.choice(conversations),
                seller_id=seller.pk,
                author=Message.Author.BUYER,
                channel=Message.Channel.MAIL,
                state=Message.State.RELAYED,
                subject=f"{TOP_UP_TAG} {added}",
                text="",
                needs_reply=seconds is None,
                response_seconds=seconds,
                outbound_message_id=f"<{secrets.token_hex(12)}@{TOP_UP_TAG}>",
                created_at=created,
            )
        )
        added += 1
        if len(batch) == 5000 or added == missing:
            with transaction.atomic():
                Message.objects.bulk_create(batch)
            batch = []
            print(f"  topped up {added:,}/{missing:,} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    with transaction.atomic():
        tally.rebuild(seller.pk)  # the top-up was written in bulk, past post_message
    if connection.vendor == "postgresql":  # what autovacuum does soon after a bulk write
        with connection.cursor() as cursor:
            for table in ("conversations_message", tally.TABLE, median.BUCKETS_TABLE):
                cursor.execute(f"VACUUM (ANALYZE, INDEX_CLEANUP ON) {table}")
    return added


def direct_count(seller_id: int, days: int, now) -> tuple[int, int, int, int, int | None]:
    """The figures straight from the message rows (slow; a check of the tally and the median)."""
    answered = Message.objects.filter(
        seller_id=seller_id,
        author=Message.Author.BUYER,
        is_auto=False,
        created_at__gte=now - timedelta(days=days),
    ).exclude(state=Message.State.CUSTOMER_SERVICE)
    seconds = sorted(
        answered.filter(response_seconds__isnull=False).values_list("response_seconds", flat=True)
    )
    waiting = answered.filter(needs_reply=True)
    deadline = now - timedelta(seconds=response_times.ON_TIME_SECONDS)
    return (
        sum(1 for s in seconds if s <= response_times.ON_TIME_SECONDS),
        sum(1 for s in seconds if s > response_times.ON_TIME_SECONDS),
        waiting.filter(created_at__lt=deadline).count(),
        waiting.filter(created_at__gte=deadline).count(),
        seconds[(len(seconds) - 1) // 2] if seconds else None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seller-messages", type=int, default=50_000)
    parser.add_argument("--plans", action="store_true", help="print the query plan of the figures query")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    total = Message.objects.count()
    seller = busiest_seller()
    added = top_up(seller, args.seller_messages, random.Random(7))
    in_window = Message.objects.filter(
        seller=seller, author=Message.Author.BUYER, created_at__gte=timezone.now() - timedelta(days=90)
    ).count()
    print(
        f"{connection.vendor}: {Message.objects.count():,} messages ({total:,} before, {added:,} added); "
        f"seller {seller.pk} has {Message.objects.filter(seller=seller).count():,}, "
        f"{in_window:,} buyer messages in the last 90 days"
    )
    owner = SellerUser.objects.filter(account=seller, is_owner=True).select_related("user").get().user
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(owner)
    rng = random.Random(3)
    times: list[float] = []
    for n in range(WARMUP + args.requests):
        days = rng.choice(response_times.PERIODS)
        started = time.perf_counter()
        response = client.get("/performance/", {"days": days})
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        if n >= WARMUP:
            times.append(elapsed)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(
        f"performance page, {args.requests} requests: median {statistics.median(times):.1f} ms, "
        f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms; target p95 ≤ 100 ms: {'met' if p95 <= 100 else 'NOT met'}"
    )
    now = timezone.now()
    for days in response_times.PERIODS:
        figures, direct = response_times.figures(seller.pk, days, now), direct_count(seller.pk, days, now)
        kept = (
            figures.on_time,
            figures.answered_late,
            figures.overdue,
            figures.waiting,
            figures.median_seconds,
        )
        print(f"  {days}-day figures: {figures.as_dict()}")
        print(f"    from the tally {kept}, counted directly from the messages {direct}: ", end="")
        print("equal" if kept == direct else "DIFFERENT")
    if args.plans:
        since = timezone.now() - timedelta(days=90)
        sql = "SELECT COUNT(response_seconds) " + response_times._counted()
        params = [seller.pk, since]
        with connection.cursor() as cursor:
            prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
            cursor.execute(prefix + sql, params)
            for row in cursor.fetchall():
                print("  plan:", row[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
