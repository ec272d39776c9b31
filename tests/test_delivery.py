"""Delivery: retries with back-off, permanent failures, bounces to VERP addresses, notices, loops."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from marketmsg.conversations.models import Message
from marketmsg.delivery import verp
from marketmsg.delivery.models import Delivery
from marketmsg.relay import worker
from marketmsg.relay.notices import clean_reason
from tests.support.delivery import deliver_all
from tests.support.mail import compose, everything_readable, parse
from tests.support.personas import make_buyer, make_pair, make_seller

pytestmark = pytest.mark.db


OWNER = "owner@sakura-books.example.jp"


def seller_writes(gateway, pair, **headers) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Sakura Books' owner writes to the buyer's relay address from their own mail client."""
    return gateway.send(OWNER, pair.buyer_relay, compose(OWNER, pair.buyer_relay, **headers))


def dsn(to: str, status: str = "5.1.1", action: str = "failed") -> str:
    return f"""From: MAILER-DAEMON@mx.example.jp
To: {to}
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

This is the mail system at host mx.example.jp. taro.yamada@example.jp: user unknown

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.jp

Final-Recipient: rfc822; taro.yamada@example.jp
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 <taro.yamada@example.jp>: Recipient address rejected

--b1--
"""


def test_temporary_failure_is_retried_on_the_schedule_then_delivered(gateway, sink, settings):
    settings.RETRY_SCHEDULE = [60, 300]
    pair = make_pair()
    sink.answers["taro.yamada@example.jp"] = "451 4.2.0 Mailbox busy, try later"
    assert seller_writes(gateway, pair)[0] == 250
    deliver_all()
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.DEFERRED and delivery.attempts == 1
    assert timedelta(seconds=55) < delivery.next_attempt_at - timezone.now() <= timedelta(seconds=60)
    assert deliver_all() == 0  # not due yet
    Delivery.objects.update(next_attempt_at=timezone.now())
    del sink.answers["taro.yamada@example.jp"]
    assert deliver_all() == 1
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED and delivery.attempts == 2
    assert list(delivery.attempt_log.values_list("outcome", flat=True)) == ["temporary", "delivered"]


def test_giving_up_after_the_schedule_notifies_the_sender(gateway, sink, settings):
    settings.RETRY_SCHEDULE = [60]
    pair = make_pair()
    sink.answers["taro.yamada@example.jp"] = "452 4.2.2 Mailbox full"
    seller_writes(gateway, pair, subject="発送のお知らせ")
    deliver_all()
    Delivery.objects.update(next_attempt_at=timezone.now())
    deliver_all()
    failed = Delivery.objects.get(message__author=Message.Author.SELLER)
    assert failed.state == Delivery.State.FAILED and failed.attempts == 2
    [notice_mail] = [m for m in sink.messages if m.rcpt_tos == ["owner@sakura-books.example.jp"]]
    assert notice_mail.mail_from in ("", "<>")  # null sender: a notice never bounces back
    notice = parse(notice_mail.data)
    assert notice["Auto-Submitted"] == "auto-replied"
    text = notice.get_body(("plain",)).get_content()
    assert pair.buyer_relay in text and "配信できませんでした" in text and "could not be delivered" in text
    assert "taro.yamada@example.jp" not in everything_readable(notice_mail.data)


def test_permanent_refusal_fails_at_once_and_notifies_without_the_real_address(gateway, sink):
    pair = make_pair()
    sink.answers["owner@sakura-books.example.jp"] = "550 5.1.1 <owner@sakura-books.example.jp>: no such user"
    gateway.send(
        "taro.yamada@example.jp", pair.seller_relay, compose("taro.yamada@example.jp", pair.seller_relay)
    )
    deliver_all()
    failed = Delivery.objects.get(message__author=Message.Author.BUYER)
    assert failed.state == Delivery.State.FAILED and failed.attempts == 1
    [notice_mail] = [m for m in sink.messages if m.rcpt_tos == ["taro.yamada@example.jp"]]
    assert "sakura-books.example.jp" not in everything_readable(notice_mail.data)


def test_bounce_to_verp_address_marks_delivery_bounced_and_tells_the_sender(gateway, sink):
    pair = make_pair()
    seller_writes(gateway, pair)
    deliver_all()
    delivery = Delivery.objects.get()
    return_path = sink.messages[0].mail_from
    assert verp.delivery_id_of(return_path) == delivery.pk
    code, reply = gateway.send("", return_path, dsn(return_path))
    assert code == 250, reply
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.BOUNCED and "5.1.1" in delivery.last_reply
    deliver_all()
    assert sink.messages[-1].rcpt_tos == ["owner@sakura-books.example.jp"]
    assert "taro.yamada@example.jp" not in everything_readable(sink.messages[-1].data)


def test_delay_notices_do_not_change_the_delivery(gateway, sink):
    pair = make_pair()
    seller_writes(gateway, pair)
    deliver_all()
    return_path = sink.messages[0].mail_from
    assert gateway.send("", return_path, dsn(return_path, "4.4.7", "delayed"))[0] == 250
    assert Delivery.objects.get().state == Delivery.State.DELIVERED


def test_forged_verp_address_is_refused(gateway):
    make_pair()
    code, _ = gateway.send("", "bounce-1-000000000000@marketplace.example", dsn("x"))
    assert code == 550


def test_auto_replies_never_loop(gateway, sink):
    pair = make_pair()
    vacation = compose(
        "taro.yamada@example.jp",
        pair.seller_relay,
        subject="自動返信: 不在です",
        Auto_Submitted="auto-replied",
    )
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, vacation)[0] == 250
    answer = compose(
        "owner@sakura-books.example.jp",
        pair.buyer_relay,
        subject="Out of office",
        Auto_Submitted="auto-replied",
    )
    assert gateway.send("owner@sakura-books.example.jp", pair.buyer_relay, answer)[0] == 250
    again = compose(
        "taro.yamada@example.jp", pair.seller_relay, subject="自動返信: 不在です", Precedence="bulk"
    )
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, again)[0] == 250
    states = list(Message.objects.order_by("id").values_list("state", "is_auto", "needs_reply"))
    assert states == [("relayed", True, False), ("suppressed", True, False), ("suppressed", True, False)]
    deliver_all()
    assert len(sink.messages) == 1
    assert parse(sink.messages[0].data)["Auto-Submitted"] == "auto-replied"


def test_mail_in_one_conversation_is_delivered_in_order(gateway, sink):
    pair = make_pair()
    sink.answers["taro.yamada@example.jp"] = "451 4.3.0 later"
    for n in range(3):
        seller_writes(gateway, pair, subject=f"message {n}")
    deliver_all()
    # The first is deferred; the later ones wait behind it instead of overtaking it.
    assert sorted(Delivery.objects.values_list("attempts", flat=True)) == [0, 0, 1]
    del sink.answers["taro.yamada@example.jp"]
    Delivery.objects.update(next_attempt_at=timezone.now())
    deliver_all()
    assert [parse(m.data)["Subject"] for m in sink.messages] == ["message 0", "message 1", "message 2"]


def test_two_workers_never_claim_the_same_delivery(gateway, sink):
    """Five conversations, so that each delivery is free to be claimed (one conversation's later
    mail waits behind its first): the second worker gets the rest, never one the first holds."""
    seller = make_pair().seller
    for n in range(5):
        email = f"buyer{n}@example.jp"
        pair = make_pair(seller, make_buyer(email))
        assert gateway.send(email, pair.seller_relay, compose(email, pair.seller_relay))[0] == 250
    first = worker.claim("worker-a", limit=2)
    second = worker.claim("worker-b", limit=10)
    assert len(first) == 2 and len(second) == 3
    assert {d.pk for d in first}.isdisjoint({d.pk for d in second})
    assert {d.pk for d in first} | {d.pk for d in second} == set(
        Delivery.objects.values_list("pk", flat=True)
    )
    assert worker.claim("worker-c", limit=10) == []  # all leased


def test_workers_claiming_at_the_same_moment_split_the_queue_without_overlap(gateway, sink):
    """Several conversations' deliveries, claimed by four workers on their own connections at once:
    each delivery goes to exactly one of them (and all of them go to someone)."""
    import threading

    from django.db import connection as this_thread

    seller = make_pair().seller
    for n in range(8):
        email = f"buyer{n}@example.jp"
        pair = make_pair(seller, make_buyer(email))
        gateway.send(email, pair.seller_relay, compose(email, pair.seller_relay))
    start = threading.Barrier(4)
    claims: dict[str, list[int]] = {}

    def claimer(name: str) -> None:
        start.wait()
        try:
            claims[name] = [d.pk for d in worker.claim(name, limit=3)]
        finally:
            this_thread.close()

    threads = [threading.Thread(target=claimer, args=(f"worker-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everyone = [pk for taken in claims.values() for pk in taken]
    assert len(everyone) == len(set(everyone)) and len(claims) == 4
    assert set(everyone) <= set(Delivery.objects.values_list("pk", flat=True))
    leased = dict(Delivery.objects.exclude(lease_owner="").values_list("pk", "lease_owner"))
    assert leased == {pk: name for name, taken in claims.items() for pk in taken}
    rest = worker.claim("worker-late", limit=10)
    assert set(everyone).isdisjoint(d.pk for d in rest)
    assert len(everyone) + len(rest) == Delivery.objects.count() == 8


def test_clean_reason_removes_addresses():
    assert clean_reason("550 5.1.1 <taro@example.jp>: Recipient unknown taro@example.jp") == (
        "550 5.1.1 <…>: Recipient unknown …"
    )


def test_every_failure_gets_its_own_notice(gateway, sink):
    pair = make_pair()
    sink.answers["taro.yamada@example.jp"] = "550 5.2.1 Mailbox disabled"
    for n in range(2):
        seller_writes(gateway, pair, subject=f"お知らせ {n}")
    deliver_all()
    notices = [m for m in sink.messages if m.rcpt_tos == ["owner@sakura-books.example.jp"]]
    assert len(notices) == 2


def test_a_batch_of_deliveries_shares_one_smtp_connection(gateway, sink):
    pair = make_pair()
    for n in range(3):
        seller_writes(gateway, pair, subject=f"お知らせ {n}")
    assert worker.run_once("test-worker") == 1  # one conversation: the later two wait their turn
    second = make_pair(buyer=make_buyer("hanako@example.jp", "佐藤 花子"), seller=pair.seller)
    seller_writes(gateway, second)
    sink.greetings = 0
    assert worker.run_once("test-worker") == 2
    assert sink.greetings == 1
    assert len(sink.messages) == 3


# --- One bad delivery never holds the others -------------------------------------------------------


def international_seller_and_others(gateway) -> list[str]:  # type: ignore[no-untyped-def]
    """A buyer writes first to a shop whose owner's address is 店長@shop.example, then three buyers
    write to an ordinary shop: the international delivery heads the worker's batch."""
    poisoned = make_pair(make_seller("店長の店", "店長@shop.example"), make_buyer("jiro@example.jp"))
    assert (
        gateway.send(
            "jiro@example.jp", poisoned.seller_relay, compose("jiro@example.jp", poisoned.seller_relay)
        )[0]
        == 250
    )
    seller = make_seller()
    tokens = []
    for n in range(3):
        email = f"good{n}@example.jp"
        pair = make_pair(seller, make_buyer(email))
        tokens.append(f"good-{n}")
        mail = compose(email, pair.seller_relay, subject=f"good-{n} 注文 {pair.order.order_id}")
        assert gateway.send(email, pair.seller_relay, mail)[0] == 250
    return tokens


def test_an_address_the_next_hop_cannot_take_fails_alone_with_a_notice_that_says_why(gateway, sink):
    sink.hidden = {"SMTPUTF8"}
    tokens = international_seller_and_others(gateway)
    assert worker.run_once("test-worker", limit=10) == 4  # one batch, the bad delivery first
    subjects = [parse(m.data)["Subject"] for m in sink.messages]
    assert [s.split()[0] for s in subjects] == tokens
    failed = Delivery.objects.get(recipient="店長@shop.example")
    assert failed.state == Delivery.State.FAILED and "SMTPUTF8" in failed.last_reply
    deliver_all()  # the failure notice goes to the buyer who wrote, and says why
    notice = parse(sink.messages[-1].data)
    assert sink.messages[-1].rcpt_tos == ["jiro@example.jp"]
    text = everything_readable(sink.messages[-1].data)
    assert "smtputf8" in text and "英数字以外" in text and "店長@shop.example" not in text
    assert notice["Subject"].startswith("配信できませんでした")


def test_an_international_address_is_sent_with_smtputf8_when_the_next_hop_offers_it(gateway, sink):
    international_seller_and_others(gateway)
    deliver_all()
    caught = next(m for m in sink.messages if m.rcpt_tos == ["店長@shop.example"])
    assert "SMTPUTF8" in caught.mail_options
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == 4


@pytest.mark.parametrize(
    "error",
    [
        UnicodeEncodeError("ascii", "店長", 0, 1, "ordinal not in range(128)"),
        RuntimeError("a bug"),
        ValueError("odd data"),
        LookupError("no such thing"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_any_exception_while_sending_one_delivery_retries_that_one_alone(gateway, sink, monkeypatch, error):
    """The property behind the SMTPUTF8 case: whatever one delivery raises, anywhere in sending it,
    the rest of its batch is delivered and it is deferred for a later try (never dropped)."""
    import smtplib

    tokens = international_seller_and_others(gateway)
    real_rcpt = smtplib.SMTP.rcpt

    def rcpt(self: smtplib.SMTP, recipient: str, options: tuple[str, ...] = ()) -> tuple[int, bytes]:
        if recipient == "店長@shop.example":
            raise error
        return real_rcpt(self, recipient, options)

    monkeypatch.setattr(smtplib.SMTP, "rcpt", rcpt)
    assert worker.run_once("test-worker", limit=10) == 4
    assert [parse(m.data)["Subject"].split()[0] for m in sink.messages] == tokens
    bad = Delivery.objects.get(recipient="店長@shop.example")
    assert bad.state == Delivery.State.DEFERRED and bad.attempts == 1 and bad.lease_owner == ""
    assert type(error).__name__ in bad.last_reply


def test_an_exception_outside_sending_also_stays_with_its_delivery(gateway, sink, monkeypatch):
    tokens = international_seller_and_others(gateway)
    real_deliver = worker.deliver

    def deliver(delivery: Delivery, owner: str, session: object) -> object:
        if delivery.recipient == "店長@shop.example":
            raise KeyError("a bug outside sending")
        return real_deliver(delivery, owner, session)  # type: ignore[arg-type]

    monkeypatch.setattr(worker, "deliver", deliver)
    assert worker.run_once("test-worker", limit=10) == 4
    assert [parse(m.data)["Subject"].split()[0] for m in sink.messages] == tokens
    assert Delivery.objects.get(recipient="店長@shop.example").state == Delivery.State.DEFERRED


def test_eight_bit_mail_is_declared_as_8bitmime_or_rendered_in_seven_bits(gateway, sink):
    """A seller's short Japanese reply renders as 8-bit text: declared where the next hop offers
    8BITMIME, encoded (and signed after encoding) where it does not."""
    pair = make_pair()
    body = "明日発送します。"
    for n in range(2):
        mail = compose("owner@sakura-books.example.jp", pair.buyer_relay, subject=f"m{n}", body=body)
        assert gateway.send("owner@sakura-books.example.jp", pair.buyer_relay, mail)[0] == 250
    assert worker.run_once("test-worker", limit=1) == 1
    offered = sink.messages[-1]
    assert not offered.data.isascii() and "BODY=8BITMIME" in offered.mail_options
    sink.hidden = {"8BITMIME"}
    deliver_all()
    plain = sink.messages[-1]
    assert plain.data.isascii() and not any(o.startswith("BODY=") for o in plain.mail_options)
    assert body in everything_readable(plain.data)


@pytest.mark.parametrize(
    "diagnostic",
    [
        '550 5.1.1 "owner"@sakura-books.example.jp: mailbox unavailable',
        "550 5.1.1 ｏｗｎｅｒ＠ｓａｋｕｒａ－ｂｏｏｋｓ．ｅｘａｍｐｌｅ．ｊｐ unknown",
        "550 5.1.1 owner＠sakura-books.example.jp unknown",
        "550 5.1.1 own\u200ber@sakura\u00ad-books.example.jp unknown",
    ],
)
def test_a_bounce_naming_the_real_address_in_any_spelling_never_passes_it_on(gateway, sink, diagnostic):
    """The failure notice to the buyer quotes the remote server's reason: the seller's real address
    in it goes, quoted, full-width or with invisible characters inside."""
    pair = make_pair()
    mail = compose("taro.yamada@example.jp", pair.seller_relay)
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, mail)[0] == 250
    deliver_all()
    return_path = sink.messages[0].mail_from
    bounce = dsn(return_path).replace(
        "Diagnostic-Code: smtp; 550 5.1.1 <taro.yamada@example.jp>: Recipient address rejected",
        f"Diagnostic-Code: smtp; {diagnostic}",
    )
    assert gateway.send("", return_path, bounce.encode())[0] == 250
    deliver_all()
    assert sink.messages[-1].rcpt_tos == ["taro.yamada@example.jp"]
    assert "owner@sakura-books.example.jp" not in everything_readable(sink.messages[-1].data)
    assert "5.1.1" in everything_readable(sink.messages[-1].data)


def test_one_delivery_status_per_message_from_its_deliveries():
    """delivery.status.summarize: reached by any mailbox is delivered; otherwise still being tried
    (with the earliest next try) beats failed; held or cancelled deliveries say nothing."""
    from datetime import UTC, datetime

    from marketmsg.delivery.status import Kind, summarize

    S = Delivery.State
    soon, later = datetime(2026, 12, 6, 10, 0, tzinfo=UTC), datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert summarize([]).kind == Kind.NONE
    assert summarize([(S.HELD, soon, 0)]).kind == Kind.NONE
    assert summarize([(S.CANCELLED, None, 0)]).kind == Kind.NONE
    assert summarize([(S.PENDING, soon, 0)]).kind == Kind.SENDING
    retry = summarize([(S.DEFERRED, later, 2), (S.DEFERRED, soon, 1), (S.FAILED, None, 1)])
    assert (retry.kind, retry.next_try) == (Kind.RETRYING, soon)
    assert summarize([(S.PENDING, soon, 3)]).kind == Kind.RETRYING  # a lease ran out after a try
    partly = summarize([(S.DELIVERED, None, 1), (S.BOUNCED, None, 1), (S.DEFERRED, soon, 1)])
    assert (partly.kind, partly.delivered, partly.total) == (Kind.DELIVERED, 1, 3)
    assert summarize([(S.FAILED, None, 1), (S.BOUNCED, None, 1)]).kind == Kind.FAILED
