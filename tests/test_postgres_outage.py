"""PostgreSQL unreachable for a while (SPEC §4): the gateway answers 451 (never 250, never 5xx),
the web says it is not ready, the worker waits, and all of them carry on when the database is
back; nothing accepted is lost. The database sits behind a TCP relay the test cuts, as a network
outage or a failover would: every open connection is dropped and new ones are refused."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller

from tests.conftest import SinkHandler, free_port
from tests.support.mail import compose, parse
from tests.support.processes import Service, migrated_and_seeded, smtp_answer

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("MARKETMSG_DATABASE_URL", "").startswith("postgres"),
        reason="a networked database; the SQLite outage is tests/test_database_outage.py",
    ),
]


class Outage:
    """A TCP relay in front of PostgreSQL that can be cut and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.listener: socket.socket | None = None
        self.lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        assert self.listener is not None
        with contextlib.suppress(OSError):  # wakes the accept() that close() alone would not
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for pair in self.pairs:
                for end in pair:
                    with contextlib.suppress(OSError):
                        end.close()
            self.pairs.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (b if source is a else a).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for end in (a, b):
                with contextlib.suppress(OSError):
                    end.close()


def smtp_code(port: int, sender: str, to: str, data: bytes) -> int:
    return smtp_answer(port, sender, to, data)[0]


def test_postgresql_away_for_a_while_then_back(tmp_path: Path, database_url: str):
    sink = SinkHandler()
    sink_port, gateway_port, web_port = free_port(), free_port(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink_port)
    controller.start()
    env, data = migrated_and_seeded(tmp_path, database_url, sink_port, 3, 3, allowed_hosts="127.0.0.1")
    host_port = database_url.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    outage = Outage((host, int(port or 5432)))
    env["MARKETMSG_DATABASE_URL"] = database_url.replace(host_port, f"127.0.0.1:{outage.port}")
    services = [
        Service(["gateway", "--listen", f"127.0.0.1:{gateway_port}", "--processes", "1"], env,
                tmp_path / "gw.log", gateway_port),
        Service(["worker"], env, tmp_path / "worker.log"),
        Service(["web", "--listen", f"127.0.0.1:{web_port}", "--workers", "1"], env,
                tmp_path / "web.log", web_port),
    ]  # fmt: skip
    for service in services:
        service.start()
    buyers = {b["id"]: b["email"] for b in data["buyers"]}
    order = next(o for o in data["orders"] if o["fulfillment"] == "MFN")
    sender, to = buyers[order["buyer_id"]], order["seller_relay_address"]

    def arrived() -> set[str]:
        return {parse(m.data)["Subject"].split()[0] for m in list(sink.messages)}

    def wait_for(tokens: set[str], seconds: float = 600) -> bool:  # a bound that only ends a hung run
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not tokens <= arrived():
            time.sleep(0.2)
        return tokens <= arrived()

    try:
        before = compose(sender, to, subject=f"before {order['order_id']}")
        assert smtp_code(gateway_port, sender, to, before) == 250
        assert wait_for({"before"})
        outage.cut()
        mail = compose(sender, to, subject=f"during {order['order_id']}")
        during = [smtp_code(gateway_port, sender, to, mail) for _ in range(3)]
        assert set(during) == {451}, during  # try again later: never 250, never 5xx
        ready = requests.get(f"http://127.0.0.1:{web_port}/readyz", timeout=30)
        assert ready.status_code == 503
        time.sleep(3)  # the worker polls a database that is not there
        outage.restore()
        deadline = time.monotonic() + 600  # an event bound: only ends a hung run
        code = 0
        while code != 250 and time.monotonic() < deadline:  # the sender's server retries
            code = smtp_code(gateway_port, sender, to, mail)
            time.sleep(0.5)
        assert code == 250
        assert wait_for({"before", "during"})  # the worker carried on by itself
        assert requests.get(f"http://127.0.0.1:{web_port}/readyz", timeout=30).status_code == 200
        assert all(s.process is not None and s.process.poll() is None for s in services)  # none died
    finally:
        for service in services:
            service.stop()
        controller.stop()
        outage.cut()
    subjects = [parse(m.data)["Subject"].split()[0] for m in sink.messages]
    assert subjects.count("before") == 1 and subjects.count("during") == 1
