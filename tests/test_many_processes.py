"""Many processes, one PostgreSQL (SPEC §4): two gateways, two workers and two web servers share one
database under load; one of each is killed with SIGKILL half-way and not restarted.

Buyers' mail servers send to either gateway (like an MTA with two MX hosts: the other one when the
first does not answer); sellers' programs post through the API to either web server, with an
Idempotency-Key, so a retry on the other server never sends twice. Afterwards every accepted
message has reached the sink; a message can arrive twice only where a killed process died between
the remote 250 and its own commit, at most once per kill.
"""

from __future__ import annotations

import json
import os
import random
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller

from tests.conftest import SinkHandler, free_port
from tests.support.mail import parse
from tests.support.processes import Service, mail_about_order, migrated_and_seeded, post_to_either

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("MARKETMSG_DATABASE_URL", "").startswith("postgres"),
        reason="several machines share one PostgreSQL; SQLite is for one machine",
    ),
]
MAILS = 160
API_SENDS = 60


def test_two_of_each_on_one_postgresql_with_one_of_each_killed(tmp_path: Path, database_url: str):
    sink = SinkHandler()
    sink_port = free_port()
    sink_controller = Controller(sink, hostname="127.0.0.1", port=sink_port)
    sink_controller.start()
    env, data = migrated_and_seeded(
        tmp_path,
        database_url,
        sink_port,
        8,
        16,
        secret_key="many-processes",
        api_rate_limit="10000",
        allowed_hosts="127.0.0.1",
    )
    run = [sys.executable, "-m", "marketmsg"]
    # One API token per seller owner, made the way the settings page makes them.
    made = subprocess.run(
        [
            *run,
            "shell",
            "-c",
            "import json; from marketmsg.accounts.models import ApiToken; "
            "from marketmsg.accounts.models import User; "
            "print(json.dumps({e: ApiToken.issue(User.objects.get(email=e), 'load', ['read', 'write'])[1] "
            f"for e in {[s['owner_email'] for s in data['sellers']]!r}}}))",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    tokens = json.loads(made.stdout.strip().splitlines()[-1])
    owner_of = {s["id"]: s["owner_email"] for s in data["sellers"]}
    emails = {b["id"]: b["email"] for b in data["buyers"]}
    relayed = [o for o in data["orders"] if o["fulfillment"] == "MFN"]

    gateway_ports, web_ports = [free_port(), free_port()], [free_port(), free_port()]
    gateways = [
        Service(
            ["gateway", "--listen", f"127.0.0.1:{p}", "--processes", "1"], env, tmp_path / f"gw{n}.log", p
        )
        for n, p in enumerate(gateway_ports)
    ]
    workers = [Service(["worker"], env, tmp_path / f"worker{n}.log") for n in range(2)]
    webs = [
        Service(["web", "--listen", f"127.0.0.1:{p}", "--workers", "2"], env, tmp_path / f"web{n}.log", p)
        for n, p in enumerate(web_ports)
    ]
    services = [*gateways, *workers, *webs]
    for service in services:
        service.start()

    mailed: list[str] = []
    posted: list[str] = []
    failed: list[str] = []
    progress = {"mail": 0, "api": 0}

    def buyers() -> None:
        rng = random.Random(3)
        for k in range(MAILS):
            token = f"mail-{k:04d}"
            ports = gateway_ports[k % 2 :] + gateway_ports[: k % 2]
            ok = mail_about_order(ports, rng.choice(relayed), emails, token, 80)
            (mailed if ok else failed).append(token)
            progress["mail"] = k + 1

    def sellers() -> None:
        rng = random.Random(4)
        for k in range(API_SENDS):
            order = rng.choice(relayed)
            token = f"api-{k:04d}"
            status = post_to_either(
                web_ports[k % 2 :] + web_ports[: k % 2],
                tokens[owner_of[order["seller_id"]]],
                f"/api/v1/orders/{order['order_id']}/messages",
                {
                    "subject": f"{token} 発送のお知らせ",
                    "text": "本日発送いたしました。",
                    "reason": "delivery",
                },
                key=token,
            )
            (posted if status == 201 else failed).append(token if status == 201 else f"{token}:{status}")
            progress["api"] = k + 1

    threads = [threading.Thread(target=buyers), threading.Thread(target=sellers)]
    for thread in threads:
        thread.start()
    try:
        # Half-way: one of each dies for good.
        deadline = time.monotonic() + 900  # an event bound: only ends a hung run
        while (
            progress["mail"] < MAILS // 2 or progress["api"] < API_SENDS // 2
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        killed = [gateways[0], workers[0], webs[0]]
        for service in killed:
            service.kill()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in threads), "the load did not finish: a lock-up"
        expected = set(mailed) | set(posted)
        deadline = time.monotonic() + 900  # an event bound: only ends a hung run
        while time.monotonic() < deadline:
            arrived = {parse(m.data)["Subject"].split()[0] for m in list(sink.messages)}
            if expected <= arrived:
                break
            time.sleep(0.5)
        # The survivors still serve.
        assert requests.get(f"http://127.0.0.1:{web_ports[1]}/readyz", timeout=10).status_code == 200
        with smtplib.SMTP("127.0.0.1", gateway_ports[1], timeout=10) as smtp:
            assert smtp.noop()[0] == 250
    finally:
        for service in services:
            service.stop()
        sink_controller.stop()
    delivered = Counter(parse(m.data)["Subject"].split()[0] for m in sink.messages)
    missing = (set(mailed) | set(posted)) - set(delivered)
    duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    sys.stderr.write(
        f"\nmany processes: {len(mailed)} mails and {len(posted)} API sends accepted, {len(failed)} failed, "
        f"{len(delivered)} delivered, {duplicates} duplicate(s); killed one gateway, worker and web\n"
    )
    assert not failed, f"the survivors should have taken every request: {failed}"
    assert len(mailed) == MAILS and len(posted) == API_SENDS
    assert not missing, f"accepted but never delivered: {sorted(missing)}"
    assert set(delivered) <= set(mailed) | set(posted)
    assert duplicates <= len(killed)
