"""Soak under faults (``make soak``): mail and API sends stream in for minutes while a random
gateway, worker or web process is SIGKILLed again and again, then restarted.

Two gateways (one process each, as two MX hosts), two workers and two web servers share one
database: SQLite by default, or a fresh database on the PostgreSQL server named by
``--postgres URL`` (or MARKETMSG_BENCH_POSTGRES_URL). Buyers' mail goes to either gateway, as a
sending MTA retries another MX. The sellers' API sends go to either web server and are retried
with their Idempotency-Key. When the time is up, every process is running again and the workers
get up to three minutes to deliver what was accepted.

Counted at the end, by a token in each subject: sent, accepted, delivered, lost (accepted and
never delivered: must be 0) and duplicated. A duplicate can only come from a worker killed
between the next hop's 250 and its own commit, so there can be at most one per worker kill.
Figures go to bench/results/soak.json; the table is for docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("MARKETMSG_DATA_DIR", tempfile.mkdtemp(prefix="marketmsg-soak-"))
os.environ.setdefault("MARKETMSG_SECRET_KEY", "soak")

from aiosmtpd.controller import Controller  # noqa: E402
from tests.conftest import SinkHandler, free_port  # noqa: E402
from tests.support.mail import parse  # noqa: E402
from tests.support.processes import (  # noqa: E402
    Service,
    mail_about_order,
    migrated_and_seeded,
    post_to_either,
)

sys.path.insert(0, str(ROOT / "bench"))
from production_bench import drop_database, postgres_database  # noqa: E402


def say(text: str) -> None:
    sys.stderr.write(f"  {text}\n")
    sys.stderr.flush()


def api_tokens(env: dict[str, str], owners: list[str]) -> dict[str, str]:
    made = subprocess.run(
        [
            sys.executable, "-m", "marketmsg", "shell", "-c",
            "import json; from marketmsg.accounts.models import ApiToken; "
            "from marketmsg.accounts.models import User; "
            "print(json.dumps({e: ApiToken.issue(User.objects.get(email=e), 'soak', ['read', 'write'])[1] "
            f"for e in {owners!r}}}))",
        ],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(made.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def outbox_gap(env: dict[str, str]) -> int:
    """Stored messages whose webhook event is missing from the outbox (must be 0: the event is
    written in the message's own transaction, ADR 19)."""
    made = subprocess.run(
        [
            sys.executable, "-m", "marketmsg", "shell", "-c",
            "from marketmsg.conversations.models import Message; "
            "from marketmsg.webhooks.models import Event; "
            "wanted = {('buyer', 'relayed'): 'message.received', ('seller', 'relayed'): 'message.sent'}; "
            "print(sum(max(0, Message.objects.filter(author=a, state=s).count() "
            "- Event.objects.filter(type=t).count()) for (a, s), t in wanted.items()))",
        ],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(made.stdout.strip().splitlines()[-1])


class Load:
    """Buyers mailing and sellers posting through the API until told to stop."""

    def __init__(self, data: dict, tokens: dict[str, str], gateways: list[int], webs: list[int]) -> None:  # type: ignore[type-arg]
        self.orders = [o for o in data["orders"] if o["fulfillment"] == "MFN"]
        self.emails = {b["id"]: b["email"] for b in data["buyers"]}
        self.owner_of = {s["id"]: s["owner_email"] for s in data["sellers"]}
        self.tokens, self.gateways, self.webs = tokens, gateways, webs
        self.stop = threading.Event()
        self.sent: Counter[str] = Counter()
        self.accepted: list[str] = []
        self.failed: list[str] = []

    def mail(self, seed: int) -> None:
        rng = random.Random(seed)
        for k in range(10**9):
            if self.stop.is_set():
                return
            token = f"m{seed}-{k:05d}"
            self.sent["mail"] += 1
            ports = self.gateways[k % 2 :] + self.gateways[: k % 2]
            ok = mail_about_order(ports, rng.choice(self.orders), self.emails, token, 120)
            (self.accepted if ok else self.failed).append(token)

    def api(self, seed: int) -> None:
        rng = random.Random(seed)
        for k in range(10**9):
            if self.stop.is_set():
                return
            order = rng.choice(self.orders)
            token = f"a{seed}-{k:05d}"
            self.sent["api"] += 1
            status = post_to_either(
                self.webs[k % 2 :] + self.webs[: k % 2],
                self.tokens[self.owner_of[order["seller_id"]]],
                f"/api/v1/orders/{order['order_id']}/messages",
                {
                    "subject": f"{token} 発送のお知らせ",
                    "text": "本日発送いたしました。",
                    "reason": "delivery",
                },
                key=token,
            )
            (self.accepted if status == 201 else self.failed).append(token)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between SIGKILLs")
    parser.add_argument("--down", type=float, default=1.0, help="seconds a killed process stays down")
    parser.add_argument("--postgres", default=os.environ.get("MARKETMSG_BENCH_POSTGRES_URL", ""))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="marketmsg-soak-"))
    database, pg_name = f"sqlite:///{work / 'soak.sqlite3'}", ""
    if args.postgres:
        database, pg_name = postgres_database(args.postgres)
    kind = "PostgreSQL" if pg_name else "SQLite"
    sys.stderr.write(
        f"marketmsg soak: {args.minutes} min on {kind}, a SIGKILL every {args.kill_every} s ({work})\n"
    )
    sink = SinkHandler()
    sink_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink_port)
    controller.start()
    env, data = migrated_and_seeded(
        work, database, sink_port, 30, 60, secret_key="soak", api_rate_limit="100000",
        allowed_hosts="127.0.0.1", limit_per_sender="off", limit_per_relay_address="off",
    )  # fmt: skip
    tokens = api_tokens(env, [s["owner_email"] for s in data["sellers"]])
    gateway_ports, web_ports = [free_port(), free_port()], [free_port(), free_port()]
    services: dict[str, Service] = {}
    for n, port in enumerate(gateway_ports, 1):
        command = ["gateway", "--listen", f"127.0.0.1:{port}", "--processes", "1"]
        services[f"gateway {n}"] = Service(command, env, work / f"gw{n}.log", port)
    for n in (1, 2):
        services[f"worker {n}"] = Service(["worker"], env, work / f"worker{n}.log")
    for n, port in enumerate(web_ports, 1):
        command = ["web", "--listen", f"127.0.0.1:{port}", "--workers", "2"]
        services[f"web {n}"] = Service(command, env, work / f"web{n}.log", port)
    for service in services.values():
        service.start()
    load = Load(data, tokens, gateway_ports, web_ports)
    threads = [threading.Thread(target=load.mail, args=(n,)) for n in (1, 2)]
    threads.append(threading.Thread(target=load.api, args=(3,)))
    for thread in threads:
        thread.start()
    kills: Counter[str] = Counter()
    rng = random.Random(5)
    started = time.monotonic()
    ends = started + args.minutes * 60
    next_report = started + 15
    try:
        while time.monotonic() < ends:
            time.sleep(args.kill_every)
            name = rng.choice(sorted(services))
            services[name].kill()
            kills[name.split()[0]] += 1
            time.sleep(args.down)
            services[name].start()
            if time.monotonic() >= next_report:
                next_report += 15
                say(
                    f"{time.monotonic() - started:5.0f} s: {sum(load.sent.values())} sent, "
                    f"{len(load.accepted)} accepted, {len(sink.messages)} arrived, "
                    f"{sum(kills.values())} SIGKILLs"
                )
        load.stop.set()
        for thread in threads:
            thread.join(timeout=300)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            arrived = {parse(m.data)["Subject"].split()[0] for m in list(sink.messages)}
            if set(load.accepted) <= arrived:
                break
            time.sleep(1)
        outbox = outbox_gap(env)
    finally:
        for service in services.values():
            service.stop()
        controller.stop()
        if pg_name:
            drop_database(args.postgres, pg_name)
    delivered = Counter(parse(m.data)["Subject"].split()[0] for m in sink.messages)
    accepted = set(load.accepted)
    lost = sorted(accepted - set(delivered))
    duplicates = sum(n - 1 for token, n in delivered.items() if n > 1)
    results = {
        "database": kind,
        "minutes": args.minutes,
        "sigkills": dict(kills),
        "sent_mail": load.sent["mail"],
        "sent_api": load.sent["api"],
        "accepted": len(accepted),
        "not_accepted_after_retries": len(load.failed),
        "delivered": len(accepted & set(delivered)),
        "lost": len(lost),
        "duplicated": duplicates,
        "duplicates_bound_worker_kills": kills["worker"],
        "webhook_events_missing": outbox,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps(results, indent=2))
    print(f"| {kind}, {args.minutes:g} min | value |\n|---|---|")
    for key, value in results.items():
        print(f"| {key.replace('_', ' ')} | {value} |")
    verdict = not lost and duplicates <= kills["worker"] and outbox == 0
    print(
        f"\nlost 0, duplicates ≤ worker kills, no webhook event missing: {'yes' if verdict else 'NO'}"
        + (f"; lost: {lost[:10]}" if lost else "")
    )
    sys.exit(0 if verdict else 1)


if __name__ == "__main__":
    main()
