"""Database bytes per stored message: how much of a mail the database keeps, and how much the blob
store, for 1 KB and 100 KB mails (100 KB with a file attached).

Each mail goes through the inbound pipeline (``relay.inbound.receive``) into a fresh database;
then the database's own accounting is read (SQLite: the dbstat table; PostgreSQL:
pg_total_relation_size) and divided by the messages stored. Run with ``make bench-storage``;
``MARKETMSG_BENCH_SRC=/path/to/an/older/checkout/src`` measures an older version the same way
(the "before" figure). With ``--postgres URL`` it measures PostgreSQL too. Results go to
bench/results/storage.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mail(sender: str, to: str, size: int, n: int, attach: bool) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, f"question {n}"
    if attach:  # a PDF (random bytes behind its header: files do not compress) makes up most of it
        message.set_content("添付をご確認ください。")
        pdf = b"%PDF-1.4\n" + random.Random(n).randbytes(size * 3 // 4 - 9)
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename="a.pdf")
    else:
        message.set_content(("ご質問です。" * (size // 18 + 1))[: size // 3])
    return message.as_bytes()


def measure(count: int, size: int, attach: bool) -> dict[str, float]:
    from django.db import connection

    from marketmsg.accounts.models import Buyer, SellerAccount, SellerUser, User
    from marketmsg.addresses import services as addresses
    from marketmsg.orders.models import Order
    from marketmsg.relay import inbound

    tag = uuid.uuid4().hex[:6]
    seller = SellerAccount.objects.create(name=f"shop {tag}")
    owner = User.objects.create_user(f"owner-{tag}@shop.example", "x", name="owner", role="seller")
    SellerUser.objects.create(account=seller, user=owner, is_owner=True)
    buyer_user = User.objects.create_user(f"buyer-{tag}@example.jp", "x", name="buyer", role="buyer")
    buyer = Buyer.objects.create(user=buyer_user)
    Order.objects.create(order_id=f"503-{uuid.uuid4().int % 10**7:07d}-0000000", seller=seller, buyer=buyer)
    relay = addresses.relay_pair(buyer, seller).seller_address.address
    before = database_bytes(connection)
    started = time.monotonic()
    for n in range(count):
        inbound.receive(mail(buyer_user.email, relay, size, n, attach), buyer_user.email, [relay])
    seconds = time.monotonic() - started
    grown = database_bytes(connection) - before
    return {
        "messages": count,
        "database_bytes_per_message": round(grown / count),
        "seconds": round(seconds, 1),
    }


def database_bytes(connection) -> int:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("SELECT SUM(pgsize) FROM dbstat")
        else:
            cursor.execute(
                "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
            )
        return int(cursor.fetchone()[0] or 0)


def run_one(database_url: str, counts: dict[str, int]) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="marketmsg-storage-"))
    os.environ.update(
        MARKETMSG_DATA_DIR=str(work),
        MARKETMSG_SECRET_KEY="bench",
        MARKETMSG_LOG_LEVEL="WARNING",
        MARKETMSG_DATABASE_URL=database_url or f"sqlite:///{work / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="marketmsg.settings",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    results: dict[str, object] = {}
    for label, size, attach in (("1KB", 1024, False), ("100KB_with_file", 100 * 1024, True)):
        results[label] = measure(counts[label], size, attach)
        print(f"{label}: {results[label]}", file=sys.stderr)
    media = work / "media"
    results["blob_bytes_on_disk"] = sum(p.stat().st_size for p in media.rglob("*") if p.is_file())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL (a fresh database is made in it)")
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=200)
    parser.add_argument("--label", default="this checkout")
    args = parser.parse_args()
    sys.path.insert(0, os.environ.get("MARKETMSG_BENCH_SRC") or str(ROOT / "src"))
    url = args.postgres
    if url:
        import psycopg

        name = f"marketmsg_storage_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = url.rsplit("/", 1)[0] + f"/{name}"
    counts = {"1KB": args.small, "100KB_with_file": args.large}
    results = {"label": args.label, "database": "postgresql" if url else "sqlite", **run_one(url, counts)}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"storage-{results['database']}-{args.label.replace(' ', '_')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
