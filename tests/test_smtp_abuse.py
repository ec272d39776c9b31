"""SMTP abuse (SPEC §4): rate limits per connecting address, sender address and relay address;
too many connections; pipelining, bare-LF smuggling, over-long lines and stuck clients. A burst
beyond a limit is told to try later (421/450) while the rest of the marketplace keeps working,
and nothing that was accepted is lost."""

from __future__ import annotations

import smtplib
import socket
import time
from collections.abc import Iterator

import pytest

from marketmsg.conversations.models import Message
from marketmsg.gateway.limits import Limits, Settings
from marketmsg.limits.rate import Rate
from tests.conftest import Gateway, crlf
from tests.support.delivery import deliver_all
from tests.support.mail import compose
from tests.support.personas import make_buyer, make_pair, make_seller

pytestmark = [pytest.mark.db]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limits_count_connections_per_address_and_spare_the_mta_in_front():
    from marketmsg.gateway.limits import networks

    limits = Limits(Settings(2, 100, Rate(0, 1), Rate(0, 1), Rate(0, 1), networks(["127.0.0.0/8"])))
    assert limits.connect("192.0.2.1") is None and limits.connect("192.0.2.1") is None
    assert limits.connect("192.0.2.1") == "address"
    assert limits.connect("192.0.2.2") is None  # someone else is not affected
    limits.disconnect("192.0.2.1")
    assert limits.connect("192.0.2.1") is None
    assert all(limits.connect("127.0.0.1") is None for _ in range(10))  # the MTA in front


@pytest.fixture
def limited(transactional_db, settings) -> Iterator[Gateway]:  # type: ignore[no-untyped-def]
    from marketmsg.gateway.server import Gateway as Server
    from marketmsg.gateway.server import listen

    settings.LIMIT_PER_SENDER = "3/1h"
    settings.LIMIT_PER_RELAY_ADDRESS = "4/1h"
    settings.LIMIT_PER_IP = "8/1h"
    settings.LIMIT_CONNECTIONS_PER_IP = 2
    settings.LIMIT_EXEMPT_NETWORKS = []  # the test client on loopback is a stranger here
    settings.GATEWAY_TIMEOUT_SECONDS = 1.0
    server = Server(listen("127.0.0.1", 0))
    server.start()
    handle = Gateway("127.0.0.1", server.listener.getsockname()[1])
    handle.server = server  # type: ignore[attr-defined]
    yield handle
    server.stop()


def send(gateway: Gateway, sender: str, to: str, subject: str = "在庫") -> tuple[int, str]:
    return gateway.send(sender, to, compose(sender, to, subject=subject))


def test_a_sender_bursting_past_its_limit_is_told_to_wait_while_others_go_on(limited):
    taro = make_pair()
    hanako = make_pair(taro.seller, make_buyer("hanako@example.jp", "佐藤 花子"))
    answers = [send(limited, taro.buyer.email, taro.seller_relay, f"質問 {n}") for n in range(4)]
    assert [code for code, _ in answers] == [250, 250, 250, 450]
    assert "4.7.1" in answers[3][1] and "sender address" in answers[3][1]
    assert send(limited, hanako.buyer.email, hanako.seller_relay)[0] == 250  # the rest keep working
    assert Message.objects.count() == 4  # the three accepted and hanako's; nothing lost


def test_a_relay_address_flooded_by_its_senders_is_told_to_wait(limited, settings):
    pair = make_pair()
    owner = "owner@sakura-books.example.jp"
    codes = [send(limited, owner, pair.buyer_relay, f"お知らせ {n}")[0] for n in range(3)]
    codes += [send(limited, pair.buyer.email, pair.seller_relay, "質問")[0]]
    assert codes == [250, 250, 250, 250]  # owner 3 (its limit), buyer 1 to another address
    assert send(limited, owner, pair.buyer_relay)[0] == 450  # the owner's own limit
    assert Message.objects.count() == 4


def test_too_many_connections_from_one_address_get_421_and_a_freed_slot_is_reused(limited):
    first, second = smtplib.SMTP(limited.host, limited.port), smtplib.SMTP(limited.host, limited.port)
    with socket.create_connection((limited.host, limited.port), timeout=5) as third:
        greeting = third.recv(1000).decode()
        assert greeting.startswith("421 4.7.0") and "Too many connections" in greeting
        assert third.recv(1000) == b""  # and closed
    first.quit()
    time.sleep(0.2)
    again = smtplib.SMTP(limited.host, limited.port)
    assert again.noop()[0] == 250
    again.quit()
    second.quit()


def test_one_address_starting_too_many_messages_is_told_to_wait(limited):
    first = make_pair()
    pairs = [first] + [
        make_pair(first.seller, make_buyer(f"buyer{n}@example.jp", f"買い手 {n}")) for n in range(4)
    ]
    codes = []
    with limited.client() as smtp:
        smtp.ehlo("client.example")
        for n in range(10):
            pair = pairs[n % len(pairs)]
            codes.append(smtp.mail(pair.buyer.email)[0])
            smtp.rset()
    assert codes == [250] * 8 + [450, 450]


def test_pipelined_commands_are_answered_in_order_and_store_one_message(limited):
    pair = make_pair()
    mail = crlf(compose(pair.buyer.email, pair.seller_relay))
    with socket.create_connection((limited.host, limited.port), timeout=5) as conn:
        reader = conn.makefile("rb")
        reader.readline()
        conn.sendall(b"EHLO client.example\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        conn.sendall(
            f"MAIL FROM:<{pair.buyer.email}>\r\nRCPT TO:<{pair.seller_relay}>\r\nDATA\r\n".encode()
            + mail
            + b"\r\n.\r\nQUIT\r\n"
        )
        replies = [reader.readline()[:3] for _ in range(5)]
    assert replies == [b"250", b"250", b"354", b"250", b"221"]
    assert Message.objects.count() == 1


def test_a_bare_lf_dot_cannot_smuggle_a_second_message(limited, sink):
    """`\\n.\\n` inside DATA is text, not its end: the smuggled "second mail" stays inside the
    first, is stored once, and reaches the next hop as one message with its dots stuffed."""
    pair = make_pair()
    head = crlf(compose(pair.buyer.email, pair.seller_relay, body="本文")).rstrip(b"\r\n")
    smuggled = (
        head + b"\n.\nMAIL FROM:<evil@example.com>\nRCPT TO:<victim@example.org>\nDATA\n"
        b"From: ceo@example.com\nSubject: smuggled\n\nsend money\r\n.\n\r\n"
    )
    with socket.create_connection((limited.host, limited.port), timeout=5) as conn:
        reader = conn.makefile("rb")
        reader.readline()
        conn.sendall(b"HELO client.example\r\n")
        reader.readline()
        conn.sendall(f"MAIL FROM:<{pair.buyer.email}>\r\nRCPT TO:<{pair.seller_relay}>\r\nDATA\r\n".encode())
        assert [reader.readline()[:3] for _ in range(3)] == [b"250", b"250", b"354"]
        conn.sendall(smuggled + b"\r\n.\r\n")
        final = reader.readline()
        conn.sendall(b"QUIT\r\n")
    assert final.startswith(b"250"), final
    [stored] = Message.objects.all()
    assert "send money" in stored.text  # the "second mail" is the first one's text
    assert deliver_all() == 1
    [caught] = sink.messages  # one message at the next hop, to the seller only
    assert caught.rcpt_tos == ["owner@sakura-books.example.jp"]


def test_an_over_long_line_is_refused_and_the_session_goes_on(limited):
    pair = make_pair()
    with limited.client() as smtp:
        smtp.ehlo("client.example")
        smtp.mail(pair.buyer.email)
        smtp.rcpt(pair.seller_relay)
        code, reply = smtp.data(b"Subject: x\r\n\r\n" + b"A" * 200_000 + b"\r\n")
        assert code == 500 and b"Line too long" in reply
        assert Message.objects.count() == 0
        smtp.rset()
        assert (
            smtp.sendmail(
                pair.buyer.email, [pair.seller_relay], crlf(compose(pair.buyer.email, pair.seller_relay))
            )
            == {}
        )
    assert Message.objects.count() == 1


def test_a_client_that_says_nothing_is_disconnected(limited):
    # The socket's own bound only ends a run whose gateway never closes; no timing is asserted.
    with socket.create_connection((limited.host, limited.port), timeout=120) as conn:
        assert conn.recv(1000).startswith(b"220")
        assert conn.recv(1000) == b""  # closed by the gateway after its timeout (1 s here)


def test_too_many_recipients_in_one_message_get_452(limited):
    limits = limited.server.handler.limits
    limits.per_sender.rate = limits.per_relay.rate = Rate(0, 1.0)  # each RCPT counts as a message
    pair = make_pair()
    shops = [make_pair(make_seller(f"Shop {n}", f"owner@shop{n}.example.jp"), pair.buyer) for n in range(24)]
    with limited.client() as smtp:
        smtp.ehlo("client.example")
        smtp.mail(pair.buyer.email)
        codes = [smtp.rcpt(relay)[0] for relay in [pair.seller_relay] + [p.seller_relay for p in shops]]
        # Naming one already named again takes no place: it gets one copy (250, not 452).
        again = smtp.rcpt(pair.seller_relay)
    assert codes[:20] == [250] * 20 and set(codes[20:]) == {452}
    assert again[0] == 250 and b"already named" in again[1]
