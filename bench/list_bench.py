"""Message center list benchmark: server time of the seller's list views on a big marketplace.

Run against a database seeded with ``marketmsg seed`` (see ``make bench-lists``): the busiest seller
is found, then each view is requested ``--requests`` times through Django's full request path
(middleware, session, view, queries, template) in this process, and the wall time of each request is
recorded. Search terms vary per request (random order IDs, ASINs and relay addresses of that
seller), so a cached page cannot flatter the figures. The query plans the database chose for each
view are printed after the figures.

    MARKETMSG_DATABASE_URL=... python bench/list_bench.py [--requests 200] [--plans] [--seed-if-empty]

With ``--seed-if-empty`` an empty database is first migrated and seeded at the size the message
center is specified for: 10,000 sellers, 200,000 buyers, 1,000,000 orders, 3,000,000 messages,
and one seller with 7,000 orders (about 21,000 messages). That takes a while; its progress shows.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketmsg.settings")

import django

django.setup()

from django.core.exceptions import EmptyResultSet  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from marketmsg.accounts.models import SellerAccount, SellerUser  # noqa: E402
from marketmsg.addresses.models import RelayAddress  # noqa: E402
from marketmsg.conversations.listing import ListQuery, messages_for  # noqa: E402
from marketmsg.conversations.models import Message  # noqa: E402
from marketmsg.orders.models import OrderItem  # noqa: E402

WARMUP = 20
SEED = {
    "sellers": 10_000,
    "buyers": 200_000,
    "orders": 1_000_000,
    "messages": 3_000_000,
    "busy_seller_orders": 7_000,
}


def seed_if_empty() -> None:
    call_command("migrate", verbosity=0)
    if Message.objects.exists():
        return
    print(f"Empty database: seeding {SEED} first.", file=sys.stderr)
    call_command("seed", json=os.devnull, **SEED)
    # Fresh statistics, as autovacuum (PostgreSQL) or PRAGMA optimize (SQLite) keep them in service.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def busiest_seller() -> tuple[SellerAccount, int]:
    """The seller with the most messages (the seed's --busy-seller-orders makes one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.seller_id, COUNT(*) FROM conversations_message m "
            "JOIN conversations_conversation c ON c.id = m.conversation_id "
            "GROUP BY c.seller_id ORDER BY COUNT(*) DESC LIMIT 1"
        )
        seller_id, count = cursor.fetchone()
    return SellerAccount.objects.get(pk=seller_id), count


def search_terms(seller: SellerAccount, rng: random.Random, n: int) -> dict[str, list[str]]:
    order_ids = list(
        Message.objects.filter(conversation__seller=seller)
        .values_list("conversation__order__order_id", flat=True)
        .distinct()[:5000]
    )
    asins = list(OrderItem.objects.filter(order__seller=seller).values_list("asin", flat=True)[:5000])
    relays = [
        r.address
        for r in RelayAddress.objects.filter(seller=seller, side=RelayAddress.Side.BUYER).only(
            "local_part", "domain"
        )[:5000]
    ]
    return {
        "order": [rng.choice(order_ids) for _ in range(n)],
        "asin": [rng.choice(asins) for _ in range(n)],
        "email": [rng.choice(relays) for _ in range(n)],
    }


def views(terms: dict[str, list[str]]) -> dict[str, Callable[[int], dict[str, str]]]:
    return {
        "received, default view (response needed)": lambda i: {},
        "search by order ID": lambda i: {"box": "received", "q": terms["order"][i]},
        "search by ASIN": lambda i: {"box": "received", "q": terms["asin"][i]},
        "search by e-mail (relay address)": lambda i: {"box": "received", "q": terms["email"][i]},
        "received within 90 days": lambda i: {"box": "received", "period": "90"},
    }


def measure(client: Client, params: Callable[[int], dict[str, str]], requests: int) -> list[float]:
    for i in range(WARMUP):
        assert client.get("/messages/", params(i % requests)).status_code == 200
    times = []
    for i in range(requests):
        started = time.perf_counter()
        response = client.get("/messages/", params(i))
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def plans(seller: SellerAccount, params: dict[str, str]) -> list[str]:
    """The plans of the page query and the count query for one view."""
    query = ListQuery.from_params(params)
    found = messages_for(seller, query, timezone.now())
    try:
        page_sql, page_params = found[:25].query.sql_with_params()
        count_sql, count_params = found.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # the search term matched nothing: Django answers without a query
        return ["  (no query: the search matches nothing, so the database is not asked)"]
    count_sql = f"SELECT COUNT(*) FROM ({count_sql}) AS subquery"
    out = []
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    for label, sql, values in (("page", page_sql, page_params), ("count", count_sql, count_params)):
        with connection.cursor() as cursor:
            cursor.execute(explain + sql, values)
            lines = [" ".join(str(c) for c in row[-1:]) for row in cursor.fetchall()]
        out.append(f"  [{label}]\n" + "\n".join(f"    {line}" for line in lines))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plans", action="store_true", help="print the query plans too")
    parser.add_argument("--seed-if-empty", action="store_true", help="migrate and seed an empty database")
    args = parser.parse_args(argv)
    if args.seed_if_empty:
        seed_if_empty()

    seller, count = busiest_seller()
    user = SellerUser.objects.filter(account=seller, is_owner=True).select_related("user").get().user
    total = Message.objects.count()
    print(
        f"{connection.vendor}: {total:,} messages in all; seller {seller.pk} has {count:,}. "
        f"{args.requests} requests per view after {WARMUP} warm-up requests.",
        file=sys.stderr,
    )
    terms = search_terms(seller, random.Random(args.seed), args.requests)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    results: list[dict[str, Any]] = []
    for name, params in views(terms).items():
        times = measure(client, params, args.requests)
        p95 = statistics.quantiles(times, n=100)[94]
        results.append({"view": name, "median": statistics.median(times), "p95": p95, "max": max(times)})
        verdict = "ok" if p95 <= 50 else "OVER 50 ms"
        print(
            f"  {name:<42} median {results[-1]['median']:6.1f} ms   p95 {p95:6.1f} ms   "
            f"max {results[-1]['max']:6.1f} ms   {verdict}",
            file=sys.stderr,
        )
    if args.plans:
        for name, params in views(terms).items():
            print(f"\n{name}:")
            print("\n".join(plans(seller, params(0))))
    worst = max(r["p95"] for r in results)
    print(f"Slowest p95: {worst:.1f} ms (target ≤ 50 ms)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
