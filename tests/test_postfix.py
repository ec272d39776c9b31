"""Postfix in front and behind (docs/operations/postfix.md): a real, loopback-only Postfix instance,
configured by marketmsg.gateway.postfix, between the parties' mail servers and marketmsg.

    buyer  ─▶ Postfix MX ─▶ gateway ─▶ worker ─▶ Postfix submission ─▶ seller's inbox
    seller ─▶ Postfix MX ─▶ gateway ─▶ worker ─▶ Postfix submission ─▶ buyer's inbox (refused: 550)
                            gateway ◀─ Postfix's bounce to our VERP address ◀─┘
"""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from marketmsg.conversations.models import Message
from marketmsg.delivery.models import Delivery
from marketmsg.gateway.postfix import PostfixPlan, write_instance
from tests.conftest import crlf, free_port
from tests.support.delivery import deliver_all
from tests.support.mail import compose, parse
from tests.support.personas import make_pair

BUYER = "taro.yamada@example.jp"
OWNER = "owner@sakura-books.example.jp"
AUTHSERV = "mx.marketplace.test"


def _postfix_available() -> str | None:
    """Why this machine cannot run the instance, or None. CI installs Postfix (.ci/run)."""
    if shutil.which("postfix") is None:
        return "Postfix is not installed (apt install postfix)"
    if os.geteuid() != 0:
        return "starting a Postfix instance needs root"
    return None


@dataclass
class Postfix:
    mx: int
    submission: int
    etc: Path
    maillog: Path

    def log(self) -> str:
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""


@pytest.fixture
def postfix(gateway, sink, settings) -> Iterator[Postfix]:  # type: ignore[no-untyped-def]
    problem = _postfix_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Postfix integration test: {problem}")
        pytest.skip(problem)
    # Postfix's own user must reach its data directory: a world-readable place of our own.
    directory = Path(tempfile.mkdtemp(prefix="marketmsg-postfix-"))
    directory.chmod(0o755)
    plan = PostfixPlan(
        relay_domains=(settings.RELAY_DOMAIN, settings.MOBILE_RELAY_DOMAIN),
        gateway=f"127.0.0.1:{gateway.port}",
        relayhost=f"[127.0.0.1]:{settings.SMARTHOST[1]}",  # the parties' mail servers: the sink
        hostname=AUTHSERV,
        authserv_id=AUTHSERV,
    )
    mx, submission = free_port(), free_port()
    etc = write_instance(plan, directory, f"127.0.0.1:{mx}", f"127.0.0.1:{submission}")
    shutil.chown(directory / "data", "postfix")
    started = subprocess.run(["postfix", "-c", str(etc), "start"], capture_output=True, text=True)
    instance = Postfix(mx, submission, etc, directory / "maillog")
    try:
        assert started.returncode == 0, started.stdout + started.stderr + instance.log()
        wait_for(lambda: _listening(mx) and _listening(submission), "Postfix to listen", instance)
        settings.SMARTHOST = ("127.0.0.1", submission)  # the worker hands relayed mail to Postfix
        settings.TRUSTED_AUTHSERV_ID = AUTHSERV
        yield instance
    finally:
        subprocess.run(["postfix", "-c", str(etc), "abort"], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


def _listening(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=2):
            return True
    except OSError:
        return False


def wait_for(
    condition: Callable[[], Any], what: str, postfix: Postfix | None = None, timeout: float = 30
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    log = postfix.log()[-3000:] if postfix else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def send(port: int, mail_from: str, rcpt: str, data: bytes) -> None:
    """As the sender's mail server does: a 4xx (Postfix still asking the gateway about a new
    address) is tried again a moment later; a 5xx is raised."""
    for _ in range(100):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                smtp.sendmail(mail_from, [rcpt], crlf(data))
            return
        except smtplib.SMTPRecipientsRefused as error:
            if any(code >= 500 for code, _ in error.recipients.values()):
                raise
        time.sleep(0.2)
    raise AssertionError(f"Postfix kept deferring mail for {rcpt}")


def relay_until_caught(sink, postfix: Postfix, count: int) -> None:  # type: ignore[no-untyped-def]
    """Run the worker until the sink (the parties' servers, behind Postfix) has ``count`` mails."""

    def caught() -> bool:
        deliver_all()
        return len(sink.messages) >= count

    wait_for(caught, f"{count} mail(s) through Postfix", postfix)


def test_buyer_seller_buyer_through_postfix_with_a_bounce_back_to_the_verp_address(postfix, sink):
    pair = make_pair()
    forged = f"{AUTHSERV}; spf=pass smtp.mailfrom={BUYER}; dmarc=pass header.from=example.jp"
    question = compose(BUYER, pair.seller_relay, f"ご注文 {pair.order.order_id}", "いつ届きますか？")
    question = f"Authentication-Results: {forged}\r\n".encode() + question
    send(postfix.mx, BUYER, pair.seller_relay, question)

    # Postfix queued it and handed it to the gateway; the worker sends it out through Postfix.
    stored = wait_for(
        lambda: Message.objects.filter(author=Message.Author.BUYER).first(), "the question", postfix
    )
    # Postfix removed the forged results claiming its name; the gateway believed no other header.
    assert stored.authentication["source"] == f"authserv:{AUTHSERV}"
    assert stored.authentication["dmarc"] != "pass"
    relay_until_caught(sink, postfix, 1)
    to_seller = sink.messages[0]
    assert to_seller.rcpt_tos == [OWNER]
    relayed = parse(to_seller.data)
    assert relayed["From"].addresses[0].addr_spec == pair.buyer_relay
    assert BUYER not in to_seller.data.decode(errors="replace")
    assert to_seller.mail_from.startswith("bounce-")  # our VERP return path survived Postfix

    # The seller answers from their mail client; the buyer's server refuses it (mailbox gone).
    sink.answers[BUYER] = "550 5.1.1 <taro.yamada@example.jp>: mailbox unavailable"
    answer = compose(
        OWNER,
        pair.buyer_relay,
        f"Re: {relayed['Subject']}",
        "明日お届けします。",
        In_Reply_To=relayed["Message-ID"],
    )
    send(postfix.mx, OWNER, pair.buyer_relay, answer)
    reply = wait_for(
        lambda: Message.objects.filter(author=Message.Author.SELLER).first(), "the answer", postfix
    )
    assert reply.conversation_id == stored.conversation_id  # threaded through Postfix
    delivery = reply.deliveries.get()

    # Postfix accepts it from the worker, is refused by the buyer's server, and sends its own
    # bounce to the VERP address; that comes back through the gateway and marks the delivery.
    def bounced() -> bool:
        deliver_all()
        delivery.refresh_from_db()
        return delivery.state == Delivery.State.BOUNCED

    wait_for(bounced, "Postfix's bounce to reach the gateway", postfix)
    assert "status=bounced" in postfix.log()
    # The seller is told, in their own inbox, without the buyer's address.
    relay_until_caught(sink, postfix, 2)
    notice = sink.messages[-1]
    assert notice.rcpt_tos == [OWNER] and notice.mail_from in ("", "<>")  # the null sender
    assert BUYER not in notice.data.decode(errors="replace")


def test_postfix_refuses_an_unknown_relay_address_after_asking_the_gateway(postfix):
    """reject_unverified_recipient: Postfix asks the gateway, which refuses the address at RCPT;
    the sender's server is refused (550), nothing is queued for us to bounce later."""
    unknown = "ffffffffffffffff@marketplace.example"

    def refused_with() -> int | None:
        try:
            send(postfix.mx, BUYER, unknown, compose(BUYER, unknown))
        except smtplib.SMTPRecipientsRefused as error:
            code = error.recipients[unknown][0]
            return code if code == 550 else None  # 450 while Postfix's probe is under way
        raise AssertionError("Postfix accepted mail for an unknown relay address")

    assert wait_for(refused_with, "a 550 for the unknown address", postfix) == 550
    assert "No such relay" in postfix.log()
    assert not Message.objects.exists()


def test_postfix_config_prints_the_settings_an_operator_applies():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("postfix-config", "--gateway", "10.0.0.5:2525", "--authserv-id", AUTHSERV, stdout=out)
    text = out.getvalue()
    assert "postconf -e 'relay_domains = marketplace.example, m.marketplace.example'" in text
    assert "marketplace.example=smtp:[10.0.0.5]:2525" in text
    assert "reject_unverified_recipient" in text and "IGNORE" in text
    assert "MARKETMSG_TRUSTED_AUTHSERV_ID=mx.marketplace.test" in text
    assert "relayhost" not in text  # delivered by MX records unless the operator says otherwise
