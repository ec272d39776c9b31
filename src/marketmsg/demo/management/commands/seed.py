from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any, TextIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketmsg.demo.seeding import SeedResult, seed


class Command(BaseCommand):
    help = "Create a consistent marketplace (sellers, buyers, orders, relay addresses, message history)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sellers", type=int, required=True)
        parser.add_argument("--buyers", type=int, required=True)
        parser.add_argument("--orders", type=int, required=True)
        parser.add_argument("--messages", type=int, default=0, help="stored history messages")
        parser.add_argument("--seed", type=int, default=1, help="random seed for names and orders")
        parser.add_argument("--password", default="marketmsg", help="every seeded person's password")
        parser.add_argument("--mobile-share", type=float, default=0.2, help="share of mobile-carrier buyers")
        parser.add_argument(
            "--busy-seller-orders", type=int, default=0, help="orders that all go to the first seller"
        )
        parser.add_argument("--json", required=True, help="file for the JSON description, '-' for stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        if min(options["sellers"], options["buyers"]) < 1 or options["orders"] < 0 or options["messages"] < 0:
            raise CommandError(
                "Need at least one seller and one buyer, and no negative counts. "
                "/ 出品者と購入者は1以上、件数は0以上にしてください。"
            )
        if not 0 <= options["mobile_share"] <= 1:
            raise CommandError("--mobile-share is a fraction between 0 and 1.")
        last = [0.0]

        def progress(label: str, done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - last[0] > 1:
                last[0] = now
                sys.stderr.write(f"\r  {label:<28} {done:>10,} / {total:,}")
                if done == total:
                    sys.stderr.write("\n")
                sys.stderr.flush()

        sys.stderr.write("Seeding the marketplace / マーケットプレイスを作成中\n")
        # Orders are streamed to a spool file as they are made, then copied into the JSON.
        spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed below)
        result = seed(
            on_order=lambda order: spool.write(json.dumps(order, ensure_ascii=False) + "\n"),
            sellers=options["sellers"],
            buyers=options["buyers"],
            orders=options["orders"],
            messages=options["messages"],
            rng_seed=options["seed"],
            password=options["password"],
            mobile_share=options["mobile_share"],
            busy_seller_orders=options["busy_seller_orders"],
            progress=progress,
        )
        spool.seek(0)
        if options["json"] == "-":
            write_json(result, sys.stdout, spool)
        else:
            with open(options["json"], "w", encoding="utf-8") as out:
                write_json(result, out, spool)
        spool.close()
        summary = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in result.counts.items())
        sys.stderr.write(
            f"Done in {result.seconds:.1f} s: {summary}. Password for everyone: "
            f"{result.password!r}. JSON: {options['json']}\n"
        )


def write_json(result: SeedResult, out: TextIO, spooled_orders: TextIO | None = None) -> None:
    """Writes the description piece by piece: a million orders need not be one string."""
    head = {
        "relay_domain": settings.RELAY_DOMAIN,
        "mobile_relay_domain": settings.MOBILE_RELAY_DOMAIN,
        "password": result.password,
        "staff": result.staff,
        "counts": result.counts,
    }
    out.write(json.dumps(head, ensure_ascii=False)[:-1])
    for key in ("sellers", "buyers", "orders"):
        out.write(f', "{key}": [')
        rows = (json.dumps(row, ensure_ascii=False) for row in getattr(result, key))
        if key == "orders" and spooled_orders is not None:
            rows = (line.rstrip("\n") for line in spooled_orders)
        for i, line in enumerate(rows):
            out.write(("," if i else "") + "\n" + line)
        out.write("]")
    out.write("}\n")
