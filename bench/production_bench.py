"""Production-shape benchmark (docs/operations/scaling.md): Postfix in front and behind, gateway
processes on PostgreSQL, and end-to-end latency. Run with ``make bench-production`` (as root, with
Postfix installed; PostgreSQL parts need MARKETMSG_BENCH_POSTGRES_URL, a server where the user may
create databases).

1. Through Postfix: 1 KB mail injected into Postfix's MX, through the gateway and the workers, out
   through Postfix's submission port to a sink; against the same Postfix relaying the same mail
   straight to the sink (injected at its submission port). Delivered/s, alternating rounds, ratio
   of the medians. Target ≥ 0.9.
2. Gateway processes 1 → 2 on PostgreSQL: accepted/s with four clients, alternating rounds.
3. Latency from the gateway's 250 to arrival at the sink (gateway, workers, sink; no Postfix), p50
   and p99, at half the saturation rate: the rate the whole relay delivered in part 1's setting.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from cpu_meter import CpuMeter  # noqa: E402
from cpu_meter import per_item as cpu_per_item  # noqa: E402
from marketmsg.gateway.postfix import PostfixPlan, write_instance  # noqa: E402
from marketmsg.mailauth.devdns import DevDns  # noqa: E402
from relay_bench import Proc, blast, free_port, make_mail, read_count, seeded, start_gateway, wait_for_port  # noqa: E402

PYTHON = sys.executable


def say(text: str) -> None:
    sys.stderr.write(f"  {text}\n")
    sys.stderr.flush()


class Marketplace:
    """A migrated, seeded database and the environment the processes share."""

    def __init__(self, work: Path, database_url: str | None, sink_port: int, dns: DevDns | None) -> None:
        self.env = dict(
            os.environ,
            MARKETMSG_DATA_DIR=str(work),
            MARKETMSG_SECRET_KEY="bench",
            MARKETMSG_WORKER_POLL_SECONDS="0.05",
            MARKETMSG_LOG_LEVEL="WARNING",
            MARKETMSG_SMARTHOST=f"127.0.0.1:{sink_port}",
            PYTHONUNBUFFERED="1",
        )
        self.env.pop("MARKETMSG_DATABASE_URL", None)
        if database_url:
            self.env["MARKETMSG_DATABASE_URL"] = database_url
        data = seeded(self.env, work)
        self.emails = {b["id"]: b["email"] for b in data["buyers"]}
        self.owners = {s["id"]: s["owner_email"] for s in data["sellers"]}
        self.orders = [o for o in data["orders"] if o["fulfillment"] == "MFN"]
        if dns is not None:
            domains = {e.rpartition("@")[2] for e in [*self.emails.values(), *self.owners.values()]}
            dns.replace(
                {
                    **{d: {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]} for d in domains},
                    **{f"_dmarc.{d}": {"TXT": ["v=DMARC1; p=none"]} for d in domains},
                }
            )
            self.env["MARKETMSG_DNS_SERVER"] = dns.address
        self.rng = random.Random(7)

    def buyer_mails(self, count: int, tag: str) -> list[tuple[str, str, bytes]]:
        out = []
        for n in range(count):
            order = self.rng.choice(self.orders)
            sender = self.emails[order["buyer_id"]]
            mail = make_mail(sender, order["seller_relay_address"], 1024, n)
            mail = mail.replace(b"Subject: ", f"Subject: {tag}-{n:05d} ".encode(), 1)
            out.append((sender, order["seller_relay_address"], mail))
        return out

    def direct_mails(self, count: int, tag: str) -> list[tuple[str, str, bytes]]:
        """The same kind of mail, addressed to the sellers' real mailboxes (Postfix alone)."""
        return [
            (
                sender,
                self.owners[next(o["seller_id"] for o in self.orders if o["seller_relay_address"] == to)],
                data,
            )
            for sender, to, data in self.buyer_mails(count, tag)
        ]


def postfix_ratio(args: argparse.Namespace, work: Path) -> dict[str, object]:
    if shutil.which("postfix") is None or os.geteuid() != 0:
        say("Postfix part skipped: needs root and Postfix (apt install postfix)")
        return {"skipped": "needs root and postfix"}
    sink_port, gateway_port, mx, submission = free_port(), free_port(), free_port(), free_port()
    count_file = work / "sink.count"
    sink = Proc(
        [PYTHON, str(ROOT / "bench" / "sink.py"), "--port", str(sink_port), "--count-file", str(count_file)],
        os.environ.copy(),
        work / "sink.log",
    )
    wait_for_port(sink_port)
    dns = DevDns({}).start()
    market = Marketplace(work / "sqlite", None, submission, dns)
    pf_dir = Path(tempfile.mkdtemp(prefix="marketmsg-bench-postfix-"))
    pf_dir.chmod(0o755)
    plan = PostfixPlan(
        relay_domains=("marketplace.example", "m.marketplace.example"),
        gateway=f"127.0.0.1:{gateway_port}",
        relayhost=f"[127.0.0.1]:{sink_port}",
        hostname="mx.marketplace.test",
        authserv_id="mx.marketplace.test",
    )
    etc = write_instance(plan, pf_dir, f"127.0.0.1:{mx}", f"127.0.0.1:{submission}")
    shutil.chown(pf_dir / "data", "postfix")
    subprocess.run(["postfix", "-c", str(etc), "start"], check=True, capture_output=True)
    market.env["MARKETMSG_TRUSTED_AUTHSERV_ID"] = "mx.marketplace.test"
    gateway = start_gateway(market.env, gateway_port, args.gateway_processes, work / "gateway.log")
    workers = [
        Proc([PYTHON, "-m", "marketmsg", "worker"], market.env, work / "worker.log")
        for _ in range(args.workers)
    ]
    wait_for_port(mx)
    verified(mx, {to for _, to, _ in market.buyer_mails(args.postfix_mails * args.rounds * 3, "w")})
    market.rng.seed(7)  # the rounds write to the addresses just verified
    direct_rates: list[float] = []
    relay_rates: list[float] = []
    cpu: dict[str, Counter[str]] = {"Postfix alone": Counter(), "through marketmsg": Counter()}  # seconds
    totals: dict[str, Counter[str]] = {"Postfix alone": Counter(), "through marketmsg": Counter()}
    try:
        for round_number in range(1, args.rounds + 1):
            for label, port, jobs, rates in (
                (
                    "Postfix alone",
                    submission,
                    market.direct_mails(args.postfix_mails, f"d{round_number}"),
                    direct_rates,
                ),
                (
                    "through marketmsg",
                    mx,
                    market.buyer_mails(args.postfix_mails, f"r{round_number}"),
                    relay_rates,
                ),
            ):
                before = read_count(count_file)
                started = time.monotonic()
                with CpuMeter() as meter:
                    _, accepted, refused = blast(port, jobs)
                    deadline = started + 600
                    while read_count(count_file) - before < accepted and time.monotonic() < deadline:
                        time.sleep(0.05)
                seconds = time.monotonic() - started
                arrived = read_count(count_file) - before
                cpu[label].update(meter.seconds())
                totals[label].update({"mails": arrived, "seconds": seconds})
                rates.append(arrived / seconds)
                say(
                    f"round {round_number}: {label:18s} {arrived}/{accepted} at the sink, "
                    f"{rates[-1]:7.1f} msg/s (refused {refused})"
                )
    finally:
        for worker in workers:
            worker.stop()
        gateway.stop()
        subprocess.run(["postfix", "-c", str(etc), "abort"], capture_output=True)
        shutil.rmtree(pf_dir, ignore_errors=True)
        sink.stop()
        dns.stop()
    direct, relay = statistics.median(direct_rates), statistics.median(relay_rates)
    say(f"through Postfix: {relay:.1f} vs {direct:.1f} msg/s = {relay / direct:.3f} × (target ≥ 0.9)")
    breakdown = cpu_breakdown(cpu, totals)
    return {
        "mails_per_round": args.postfix_mails,
        "postfix_alone_per_s_each_round": [round(r, 1) for r in direct_rates],
        "through_marketmsg_per_s_each_round": [round(r, 1) for r in relay_rates],
        "ratio": round(relay / direct, 3),
        **breakdown,
    }


def cpu_breakdown(cpu: dict[str, Counter[str]], totals: dict[str, Counter[str]]) -> dict[str, object]:
    """CPU milliseconds per delivered mail by component, for both ways, and what they imply: the
    ratio the machine would allow if marketmsg itself cost nothing (both ways CPU-bound)."""
    per_mail: dict[str, dict[str, float]] = {}
    for label, seconds in cpu.items():
        mails = max(totals[label]["mails"], 1)
        per_mail[label] = cpu_per_item(seconds, mails)
        busy = seconds["machine (all CPUs)"] / (totals[label]["seconds"] * (os.cpu_count() or 1))
        say(f"CPU per mail, {label} (machine {busy:.0%} busy):")
        for group, ms in per_mail[label].items():
            say(f"    {group:22s} {ms:6.2f} ms")
    alone, through = per_mail["Postfix alone"], per_mail["through marketmsg"]
    ours = sum(ms for group, ms in through.items() if group.startswith("marketmsg"))
    machine = "machine (all CPUs)"
    ceiling = alone[machine] / max(through[machine] - ours, 0.01)
    say(
        f"without marketmsg's own {ours:.2f} ms, the way through it would still cost "
        f"{through[machine] - ours:.2f} ms per mail against {alone[machine]:.2f} ms: at most "
        f"{ceiling:.2f} × on this machine"
    )
    return {"cpu_ms_per_mail": per_mail, "ceiling_if_marketmsg_cost_nothing": round(ceiling, 3)}


def verified(port: int, addresses: set[str]) -> None:
    """Postfix asks the gateway about each relay address once (reject_unverified_recipient) and
    remembers the answer; a real MX has long since asked about the addresses in use. Ask first."""
    waiting = set(addresses)
    deadline = time.monotonic() + 300
    while waiting and time.monotonic() < deadline:
        pending = sorted(waiting)
        # A few per connection: Postfix hangs up on a client after 20 refused commands.
        for start in range(0, len(pending), 8):
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                for address in pending[start : start + 8]:
                    smtp.mail("warm-up@example.jp")
                    if smtp.rcpt(address)[0] == 250:
                        waiting.discard(address)
                    smtp.rset()
        if waiting:
            time.sleep(1)
    say(
        f"Postfix verified {len(addresses) - len(waiting)} of {len(addresses)} relay addresses "
        "with the gateway"
    )


def postgres_database(base: str) -> tuple[str, str]:
    import psycopg

    name = f"marketmsg_bench_{uuid.uuid4().hex[:8]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + f"/{name}", name


def drop_database(base: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def gateway_scaling(args: argparse.Namespace, work: Path) -> dict[str, object]:
    base = os.environ.get("MARKETMSG_BENCH_POSTGRES_URL", "")
    if not base:
        say("PostgreSQL part skipped: set MARKETMSG_BENCH_POSTGRES_URL")
        return {"skipped": "MARKETMSG_BENCH_POSTGRES_URL not set"}
    url, name = postgres_database(base)
    sink_port = free_port()
    count_file = work / "pg-sink.count"
    sink = Proc(
        [PYTHON, str(ROOT / "bench" / "sink.py"), "--port", str(sink_port), "--count-file", str(count_file)],
        os.environ.copy(),
        work / "pg-sink.log",
    )
    dns = DevDns({}).start()
    gateway_cpu: Counter[str] = Counter()  # seconds, over the two-process rounds
    try:
        market = Marketplace(work / "pg", url, sink_port, dns)
        rates: dict[int, list[float]] = {1: [], 2: []}
        stored = 0
        for round_number in range(1, args.rounds + 1):
            for processes in (1, 2):
                port = free_port()
                gateway = start_gateway(market.env, port, processes, work / f"gateway-pg-{processes}.log")
                try:
                    with CpuMeter() as meter:
                        seconds, accepted, _ = blast(port, market.buyer_mails(args.pg_mails, f"p{processes}"))
                finally:
                    gateway.stop()
                stored += accepted
                if processes == 2:
                    gateway_cpu.update(meter.seconds())
                    gateway_cpu["mails"] += accepted
                rates[processes].append(accepted / seconds)
                say(
                    f"round {round_number}: PostgreSQL, {processes} gateway process(es): "
                    f"{rates[processes][-1]:7.1f} accepted/s"
                )
        delivery = drain_on_postgres(args, market, count_file, stored, work)
    finally:
        dns.stop()
        sink.stop()
        drop_database(base, name)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    say(f"gateway 1 → 2 processes on PostgreSQL: {one:.1f} → {two:.1f} accepted/s = {two / one:.2f} ×")
    mails = int(gateway_cpu.pop("mails"))
    accept_ms = cpu_per_item(gateway_cpu, mails)
    say("CPU per accepted mail, two gateway processes: " + _listed(accept_ms))
    return {
        "mails_per_round": args.pg_mails,
        "one_process_per_s_each_round": [round(r, 1) for r in rates[1]],
        "two_processes_per_s_each_round": [round(r, 1) for r in rates[2]],
        "scaling": round(two / one, 2),
        "cpu_ms_per_accepted_mail": accept_ms,
        **delivery,
    }


def drain_on_postgres(
    args: argparse.Namespace, market: Marketplace, count_file: Path, stored: int, work: Path
) -> dict[str, object]:
    """The workers deliver everything the rounds stored; delivered/s and CPU per delivery."""
    before = read_count(count_file)
    started = time.monotonic()
    with CpuMeter() as meter:
        workers = [
            Proc([PYTHON, "-m", "marketmsg", "worker"], market.env, work / "worker-pg.log")
            for _ in range(args.workers)
        ]
        deadline = started + 900
        while read_count(count_file) - before < stored and time.monotonic() < deadline:
            time.sleep(0.1)
        seconds = time.monotonic() - started
    for worker in workers:  # after the meter: a reaped worker's time would count as its parent's
        worker.stop()
    delivered = read_count(count_file) - before
    per_delivery = meter.per_item(delivered)
    say(
        f"{args.workers} worker(s) on PostgreSQL delivered {delivered}/{stored} at "
        f"{delivered / seconds:.1f} msg/s; CPU per delivery: " + _listed(per_delivery)
    )
    return {
        "workers": args.workers,
        "delivered": delivered,
        "delivered_per_s": round(delivered / seconds, 1),
        "cpu_ms_per_delivery": per_delivery,
    }


def _listed(per_item: dict[str, float]) -> str:
    return ", ".join(f"{group} {ms:.2f} ms" for group, ms in sorted(per_item.items(), key=lambda kv: -kv[1]))


def latency(args: argparse.Namespace, work: Path) -> dict[str, object]:
    """Saturation first (a burst through gateway and workers), then an even stream at half of it."""
    sink_port, gateway_port = free_port(), free_port()
    count_file, arrivals = work / "lat.count", work / "arrivals.txt"
    sink = Proc(
        [
            PYTHON,
            str(ROOT / "bench" / "sink.py"),
            "--port",
            str(sink_port),
            "--count-file",
            str(count_file),
            "--arrivals",
            str(arrivals),
        ],
        os.environ.copy(),
        work / "lat-sink.log",
    )
    wait_for_port(sink_port)
    dns = DevDns({}).start()
    market = Marketplace(work / "latency", None, sink_port, dns)
    gateway = start_gateway(market.env, gateway_port, args.gateway_processes, work / "gateway-lat.log")
    workers = [
        Proc([PYTHON, "-m", "marketmsg", "worker"], market.env, work / "worker-lat.log")
        for _ in range(args.workers)
    ]
    try:
        started = time.monotonic()
        _, accepted, _ = blast(gateway_port, market.buyer_mails(args.latency_mails, "sat"))
        while read_count(count_file) < accepted and time.monotonic() < started + 600:
            time.sleep(0.05)
        saturation = read_count(count_file) / (time.monotonic() - started)
        rate = saturation / 2
        say(f"saturation (accepted and delivered): {saturation:.1f} msg/s; latency run at {rate:.1f} msg/s")
        accepted_at: dict[str, float] = {}
        jobs = market.buyer_mails(args.latency_mails, "lat")
        lock = threading.Lock()

        def send(index: int, job: tuple[str, str, bytes]) -> None:
            sender, to, data = job
            with smtplib.SMTP("127.0.0.1", gateway_port, timeout=60) as smtp:
                smtp.sendmail(sender, [to], data)
            with lock:
                accepted_at[f"lat-{index:05d}"] = time.time()

        threads = []
        begin = time.monotonic()
        for index, job in enumerate(jobs):  # open loop: one new sender every 1/rate seconds
            delay = begin + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            thread = threading.Thread(target=send, args=(index, job))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            seen = {
                line.split()[1]: float(line.split()[0])
                for line in arrivals.read_text().splitlines()
                if " lat-" in line
            }
            if len(seen) >= len(accepted_at):
                break
            time.sleep(0.1)
    finally:
        for worker in workers:
            worker.stop()
        gateway.stop()
        sink.stop()
        dns.stop()
    waits = sorted((seen[key] - at) * 1000 for key, at in accepted_at.items() if key in seen)
    p50, p99 = waits[len(waits) // 2], waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    say(
        f"latency at {rate:.1f} msg/s: p50 {p50:.0f} ms, p99 {p99:.0f} ms "
        f"({len(waits)} of {len(accepted_at)} arrived)"
    )
    return {
        "saturation_per_s": round(saturation, 1),
        "rate_per_s": round(rate, 1),
        "messages": len(accepted_at),
        "arrived": len(waits),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postfix-mails", type=int, default=1000)
    parser.add_argument("--pg-mails", type=int, default=1500)
    parser.add_argument("--latency-mails", type=int, default=1500)
    parser.add_argument("--gateway-processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", choices=["postfix", "postgres", "latency"], default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="marketmsg-production-bench-"))
    sys.stderr.write(f"marketmsg production benchmark (work dir {work})\n")
    results: dict[str, object] = {"cpu_count": os.cpu_count()}
    parts = {"postfix": postfix_ratio, "postgres": gateway_scaling, "latency": latency}
    for name, part in parts.items():
        if args.only in (None, name):
            (work / name).mkdir(exist_ok=True)
            results[name] = part(args, work / name)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "production.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
