"""Bulk import benchmark: a marketplace's first day through ``marketmsg import``.

Writes a JSON Lines file of sellers (each with two users), buyers and orders (one to three items),
then imports it with ``marketmsg import`` in a child process into an empty database, and reports
orders a second (the whole file's time: sellers and buyers included) and the import's peak memory
(the child's maximum resident set). Then imports the same file again (every record unchanged), as
an operator's nightly re-sync would.

    python bench/import_bench.py [--orders 1000000] [--postgres postgresql://…]

Targets (issue: marketplace integration): at least 5,000 orders a second, at most 1 GB.
Results go to bench/results/import.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "import.json"
TITLES = ["文庫本 星の王子さま", "マグカップ 白", "USB-C ケーブル 1m", "緑茶 100g", "ノート A5 方眼"]


def write_file(path: Path, sellers: int, buyers: int, orders: int) -> None:
    rng = random.Random(42)
    started = time.monotonic()
    with path.open("w", encoding="utf-8") as out:
        for s in range(sellers):
            users = [
                {"email": f"owner@shop{s}.example", "name": f"店主 {s}", "owner": True},
                {"email": f"staff@shop{s}.example", "name": f"スタッフ {s}", "language": "en"},
            ]
            out.write(
                json.dumps(
                    {"type": "seller", "external_id": f"S{s}", "name": f"ショップ {s}", "users": users}
                )
                + "\n"
            )
        for b in range(buyers):
            domain = "docomo.ne.jp" if b % 5 == 0 else "example.jp"
            record = {
                "type": "buyer",
                "external_id": f"B{b}",
                "email": f"buyer{b}@{domain}",
                "name": f"買い手 {b}",
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        for n in range(orders):
            items = [
                {
                    "product_id": f"B0{rng.randrange(10**8):08d}",
                    "title": rng.choice(TITLES),
                    "quantity": rng.randint(1, 3),
                }
                for _ in range(rng.choice((1, 1, 1, 2, 3)))
            ]
            record = {
                "type": "order",
                "order_id": f"{249 + n % 255:03d}-{n // 10_000_000:07d}-{n % 10_000_000:07d}",
                "seller": f"S{rng.randrange(sellers)}",
                "buyer": f"B{rng.randrange(buyers)}",
                "ordered_at": f"2026-{1 + n % 11:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00+09:00",
                "status": rng.choice(("placed", "shipped", "delivered", "delivered", "cancelled")),
                "fulfillment": "FBA" if n % 3 == 0 else "MFN",
                "items": items,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            if n % 100_000 == 0:
                print(f"\r  writing the file: {n:,} of {orders:,} orders", end="", file=sys.stderr)
    size = path.stat().st_size
    print(
        f"\r  wrote {path.name}: {size / 1e6:,.0f} MB in {time.monotonic() - started:,.0f} s", file=sys.stderr
    )


def run_import(env: dict[str, str], path: Path, again: bool = False) -> dict[str, Any]:
    """Run one import in a child and measure that child alone: wall time and its own peak RSS."""
    command = [sys.executable, "-m", "marketmsg", "import", str(path)] + (["--again"] if again else [])
    with tempfile.TemporaryFile("w+") as out:
        started = time.monotonic()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        summary = out.read()
    print(summary, file=sys.stderr)
    if child.returncode:
        raise SystemExit(f"marketmsg import failed with exit code {child.returncode}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "summary": summary}


def database(kind: str, postgres: str, workdir: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'import.sqlite3'}", None
    import psycopg

    name = f"marketmsg_import_{uuid.uuid4().hex[:8]}"
    admin = postgres.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")

    return postgres.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--buyers", type=int, default=0, help="default: a fifth of the orders")
    parser.add_argument("--sellers", type=int, default=0, help="default: a hundredth of the orders")
    parser.add_argument("--postgres", default=os.environ.get("MARKETMSG_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--no-again", action="store_true", help="skip the second, unchanged import")
    args = parser.parse_args()
    buyers = args.buyers or max(1, args.orders // 5)
    sellers = args.sellers or max(1, args.orders // 100)
    results: dict[str, Any] = {"orders": args.orders, "buyers": buyers, "sellers": sellers, "runs": {}}
    (ROOT / "var").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="import-bench-", dir=ROOT / "var") as tmp:
        workdir = Path(tmp)
        data = workdir / "marketplace.jsonl"
        write_file(data, sellers, buyers, args.orders)
        for kind in ("sqlite", "postgresql") if args.postgres else ("sqlite",):
            url, drop = database(kind, args.postgres, workdir)
            env = dict(os.environ, MARKETMSG_DATABASE_URL=url, MARKETMSG_DATA_DIR=str(workdir))
            try:
                subprocess.run([sys.executable, "-m", "marketmsg", "migrate", "-v0"], env=env, check=True)
                print(f"== {kind}: first import", file=sys.stderr)
                first = run_import(env, data)
                run: dict[str, Any] = {
                    "first_seconds": first["seconds"],
                    "orders_per_second": round(args.orders / first["seconds"]),
                    "records_per_second": round((args.orders + buyers + sellers) / first["seconds"]),
                    "peak_rss_mb": first["peak_rss_mb"],
                }
                if not args.no_again:
                    print(f"== {kind}: the same file again (all unchanged)", file=sys.stderr)
                    again = run_import(env, data, again=True)
                    run["again_seconds"] = again["seconds"]
                    run["again_orders_per_second"] = round(args.orders / again["seconds"])
                    run["again_peak_rss_mb"] = again["peak_rss_mb"]
                results["runs"][kind] = run
            finally:
                if drop:
                    drop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{'database':<12}{'orders/s':>10}{'records/s':>11}{'peak MB':>9}{'again o/s':>11}")
    for kind, run in results["runs"].items():
        print(
            f"{kind:<12}{run['orders_per_second']:>10,}{run['records_per_second']:>11,}{run['peak_rss_mb']:>9,}"
            f"{run.get('again_orders_per_second', 0):>11,}"
        )
    print(f"targets: ≥ 5,000 orders/s, ≤ 1,024 MB peak. Results in {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
