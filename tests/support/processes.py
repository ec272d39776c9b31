"""Real processes for the crash, outage and many-process tests: their own database (a fixture),
``marketmsg`` commands started and SIGKILLed, SMTP answers over loopback, a seeded marketplace."""

from __future__ import annotations

import json
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import crlf
from tests.support.mail import compose


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    base = os.environ.get("MARKETMSG_DATABASE_URL", "")
    if not base.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        return
    import psycopg

    name = f"marketmsg_crash_{uuid.uuid4().hex[:8]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield base.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


class Service:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.args, self.env, self.log, self.port = args, env, log, port
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "marketmsg", *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if self.port:
            wait_for_port(self.port)

    def kill(self) -> None:
        assert self.process is not None
        children = children_of(self.process.pid)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills += 1
        # A supervised gateway process must not outlive its supervisor (it would keep the port).
        deadline = time.monotonic() + 120  # a bound that only ends a hung run
        while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(Path(f"/proc/{pid}").exists() for pid in children), "orphaned gateway processes"

    def kill_one_child(self) -> None:
        """SIGKILL one process the supervisor runs; the supervisor must start another."""
        assert self.process is not None
        children = children_of(self.process.pid)
        assert children, "the gateway runs no processes"
        os.kill(random.choice(children), signal.SIGKILL)
        self.kills += 1

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port}")


def smtp_answer(port: int, mail_from: str, rcpt: str, data: bytes) -> tuple[int, str]:
    """One try, as a client sees it: the refusing reply's code and text, or (250, "")."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail(mail_from, [rcpt], crlf(data))
    except smtplib.SMTPRecipientsRefused as refused:
        code, text = next(iter(refused.recipients.values()))
        return code, text.decode()
    except smtplib.SMTPResponseException as refused:
        return refused.smtp_code, refused.smtp_error.decode()
    return 250, ""


def send_until_accepted(
    port: int | list[int], mail_from: str, rcpt: str, data: bytes, tries: int = 60
) -> bool:
    """What a sending MTA does: retry on connection trouble or 4xx; give up on 5xx. With several
    ports (several MX hosts) each try goes to the next one, so a dead host is passed over."""
    ports = port if isinstance(port, list) else [port]
    for attempt in range(tries):
        try:
            with smtplib.SMTP("127.0.0.1", ports[attempt % len(ports)], timeout=20) as smtp:
                smtp.sendmail(mail_from, [rcpt], crlf(data))
            return True
        except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError):
            pass
        except smtplib.SMTPResponseException as error:
            if error.smtp_code >= 500:
                return False
        except smtplib.SMTPRecipientsRefused as error:
            if any(code >= 500 for code, _ in error.recipients.values()):
                return False
        time.sleep(0.2)
    return False


def mail_about_order(
    ports: int | list[int],
    order: dict,
    emails: dict[int, str],
    token: str,
    tries: int = 60,  # type: ignore[type-arg]
) -> bool:
    """The order's buyer writes to its seller, the subject starting with ``token`` (counted at the
    sink); sent as an MTA would (``send_until_accepted``). Whether it was accepted."""
    sender, to = emails[order["buyer_id"]], order["seller_relay_address"]
    mail = compose(sender, to, subject=f"{token} 注文 {order['order_id']}")
    return send_until_accepted(ports, sender, to, mail, tries)


def migrated_and_seeded(
    tmp_path: Path, database_url: str, sink_port: int, buyers: int, orders: int, **settings: str
) -> tuple[dict[str, str], dict]:  # type: ignore[type-arg]
    """The environment every process of a multi-process test shares, on a migrated database with a
    seeded marketplace of two sellers; returns it and the seed's JSON."""
    env = dict(
        os.environ,
        MARKETMSG_DATABASE_URL=database_url,
        MARKETMSG_DATA_DIR=str(tmp_path),
        MARKETMSG_SMARTHOST=f"127.0.0.1:{sink_port}",
        MARKETMSG_WORKER_POLL_SECONDS="0.1",
        MARKETMSG_WORKER_LEASE_SECONDS="3",
        PYTHONUNBUFFERED="1",
        **{f"MARKETMSG_{name.upper()}": value for name, value in settings.items()},
    )
    run = [sys.executable, "-m", "marketmsg"]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True)
    seed_file = tmp_path / "seed.json"
    sizes = ["--sellers", "2", "--buyers", str(buyers), "--orders", str(orders)]
    subprocess.run(
        [*run, "seed", *sizes, "--json", str(seed_file)],
        env=env,
        check=True,
        capture_output=True,
    )
    return env, json.loads(seed_file.read_text())


def post_to_either(ports: list[int], token: str, path: str, body: dict, key: str) -> int:
    """A seller's program with two web servers behind it: on trouble, the same request (same
    Idempotency-Key) to the other one. Returns the final status."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    for attempt in range(60):
        port = ports[attempt % len(ports)]
        try:
            answer = requests.post(f"http://127.0.0.1:{port}{path}", json=body, headers=headers, timeout=20)
        except requests.RequestException:
            time.sleep(0.1)
            continue
        if answer.status_code < 500 and answer.status_code != 429:
            return answer.status_code
        time.sleep(0.2)
    return 0
