"""Shared fixtures: personas, a real SMTP sink, a real gateway on loopback."""

from __future__ import annotations

import csv
import os
import re
import smtplib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Before Django reads its settings: tests keep their files apart from a developer's var/.
_DATA = Path(
    os.environ.get("MARKETMSG_TEST_DATA_DIR", Path(__file__).resolve().parent.parent / "var" / "test")
)
os.environ["MARKETMSG_DATA_DIR"] = str(_DATA)
os.environ.setdefault("MARKETMSG_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("MARKETMSG_RETRY_SCHEDULE", "1m,5m,1h")
# Durable against process crashes (which the crash-safety test inflicts), not against power loss.
# Subprocesses (the crash-safety test's gateway and worker) read it; this process's settings were
# loaded by pytest-django before this file, with the default (FULL).
os.environ.setdefault("MARKETMSG_SQLITE_SYNCHRONOUS", "NORMAL")

import pytest  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import SMTP, Envelope, Session  # noqa: E402

# Shared fixtures from their own modules: Chromium (browser, shots) for the browser tests, and the
# process tests' own database (database_url).
pytest_plugins = ["tests.support.browsing", "tests.support.processes"]

CORPUS = Path(
    os.environ.get(
        "MARKETMSG_CORPUS_DIR", Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
    )
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Caught:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)


@dataclass
class SinkHandler:
    """Stands in for the smarthost; ``answers`` maps a recipient to the reply it should get."""

    messages: list[Caught] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    greetings: int = 0  # EHLO commands seen: one per connection from our worker
    hidden: set[str] = field(default_factory=set)  # extensions not offered, e.g. {"SMTPUTF8"}

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.greetings += 1
        session.host_name = hostname
        offered = [line for line in responses if line[4:].split(" ")[0].upper() not in self.hidden]
        return [*(f"250-{line[4:]}" for line in offered[:-1]), f"250 {offered[-1][4:]}"]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        answer = self.answers.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.messages.append(
                Caught(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    list(envelope.mail_options),
                )
            )
        return "250 2.0.0 Queued"


@pytest.fixture
def sink(settings) -> Iterator[SinkHandler]:  # type: ignore[no-untyped-def]
    handler = SinkHandler()
    port = free_port()
    # Offers SMTPUTF8 and 8BITMIME like most mail servers; a test hides one with ``hidden``.
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    settings.SMARTHOST = ("127.0.0.1", port)
    yield handler
    controller.stop()


def crlf(data: bytes | str) -> bytes:
    """Line endings as a real SMTP client sends them (smtplib leaves bytes untouched)."""
    payload = data.encode() if isinstance(data, str) else data
    return re.sub(rb"\r\n|\r|\n", b"\r\n", payload)


@dataclass
class Gateway:
    host: str
    port: int

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP(self.host, self.port, timeout=30)

    def send(self, mail_from: str, rcpt: str | list[str], data: bytes | str) -> tuple[int, str]:
        """One SMTP transaction; the final reply (the RCPT refusal if every recipient was refused)."""
        rcpts = [rcpt] if isinstance(rcpt, str) else rcpt
        with self.client() as smtp:
            smtp.ehlo("client.example")
            smtp.mail(mail_from)
            last: tuple[int, bytes] = (0, b"")
            accepted = 0
            for r in rcpts:
                last = smtp.rcpt(r)
                accepted += last[0] == 250
            if not accepted:
                return last[0], last[1].decode()
            code, reply = smtp.data(crlf(data))
            return code, reply.decode()


@pytest.fixture
def gateway(transactional_db, settings) -> Iterator[Gateway]:  # type: ignore[no-untyped-def]
    from marketmsg.gateway.server import Gateway as Server
    from marketmsg.gateway.server import listen

    # Tests send hundreds of mails from one sender to one relay address (the corpus): the abuse
    # limits have their own tests (test_smtp_abuse.py).
    settings.LIMIT_PER_SENDER = settings.LIMIT_PER_RELAY_ADDRESS = "off"
    server = Server(listen("127.0.0.1", 0))
    server.start()
    yield Gateway("127.0.0.1", server.listener.getsockname()[1])
    server.stop()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    """PBKDF2 takes a third of a second per user by design; tests create hundreds of users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def _dev_dns() -> Iterator[object]:
    from marketmsg.mailauth.devdns import DevDns

    server = DevDns().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def dns(_dev_dns, settings):  # type: ignore[no-untyped-def]
    """Every test's DNS is a loopback server with empty zones (NXDOMAIN for everything), so the
    gateway's sender authentication runs for real without the internet; a test that needs records
    sets them with ``dns.replace({...})``."""
    from marketmsg.mailauth import resolver

    _dev_dns.replace({})  # type: ignore[attr-defined]
    resolver.forget_answers()
    settings.DNS_SERVER = _dev_dns.address  # type: ignore[attr-defined]
    settings.TRUSTED_AUTHSERV_ID = ""
    settings.DKIM_KEY_FILE = ""
    return _dev_dns


def corpus_paths() -> list[str]:
    with (CORPUS / "INDEX.tsv").open(encoding="utf-8") as index:
        return [row["path"] for row in csv.DictReader(index, delimiter="\t")]
