"""Faults of the next hop (SPEC §4): a smarthost that is down for a while, and one that answers
with a random mix of temporary and permanent failures. Everything accepted is delivered in the
end, in order within each conversation, or fails exactly as the rules say, and its sender is told.
"""

from __future__ import annotations

import random

import pytest
from django.utils import timezone

from marketmsg.delivery.models import Delivery
from tests.conftest import free_port
from tests.support.delivery import deliver_all
from tests.support.mail import compose, everything_readable, parse
from tests.support.personas import make_buyer, make_pair

pytestmark = pytest.mark.db
OWNER = "owner@sakura-books.example.jp"


def due_now() -> None:
    """The retry schedule's wait, passed."""
    Delivery.objects.exclude(state=Delivery.State.DELIVERED).update(next_attempt_at=timezone.now())


def test_a_smarthost_down_for_a_while_gets_everything_afterwards_in_order(gateway, sink, settings):
    taro = make_pair()
    hanako = make_pair(taro.seller, make_buyer("hanako@example.jp", "佐藤 花子"))
    written = []
    for pair, count in ((taro, 3), (hanako, 2)):
        for n in range(count):
            subject = f"{pair.buyer.user.name} {n} 注文 {pair.order.order_id}"
            code, _ = gateway.send(
                pair.buyer.email,
                pair.seller_relay,
                compose(pair.buyer.email, pair.seller_relay, subject=subject),
            )
            assert code == 250
            written.append(subject)
    working = settings.SMARTHOST
    settings.SMARTHOST = ("127.0.0.1", free_port())  # nobody listens: connection refused
    for _ in range(3):  # three rounds of retries while it is down
        deliver_all()
        due_now()
    # Each conversation's first mail was tried and deferred; the later ones wait behind it
    # (pending, never tried), so that they cannot overtake it when the smarthost is back.
    down = Delivery.objects.order_by("id")
    assert {d.state for d in down} == {Delivery.State.DEFERRED, Delivery.State.PENDING}
    assert sorted(d.attempts for d in down) == [0, 0, 0, 3, 3] and sink.messages == []
    settings.SMARTHOST = working  # back
    assert deliver_all() == 5
    assert set(Delivery.objects.values_list("state", flat=True)) == {Delivery.State.DELIVERED}
    arrived = [parse(m.data)["Subject"] for m in sink.messages]
    assert sorted(arrived) == sorted(written)
    for name in (taro.buyer.user.name, hanako.buyer.user.name):  # each conversation in order
        assert [s for s in arrived if s.startswith(name)] == [s for s in written if s.startswith(name)]


def test_random_temporary_and_permanent_answers_are_retried_or_failed_as_the_rules_say(
    gateway, sink, settings
):
    settings.RETRY_SCHEDULE = [60]  # one retry, then give up
    rng = random.Random(11)
    first = make_pair()
    pairs = [first] + [
        make_pair(first.seller, make_buyer(f"buyer{n}@example.jp", f"買い手 {n}")) for n in range(15)
    ]
    kinds = ["ok", "temporary_then_ok", "temporary_always", "permanent"] * 4
    rng.shuffle(kinds)
    fate: dict[str, str] = {}
    for pair, kind in zip(pairs, kinds, strict=True):
        fate[pair.buyer.email] = kind
        if kind.startswith("temporary"):
            sink.answers[pair.buyer.email] = rng.choice(
                ["421 4.3.2 busy", "451 4.2.0 later", "452 4.2.2 full"]
            )
        elif kind == "permanent":
            sink.answers[pair.buyer.email] = rng.choice(["550 5.1.1 no such user", "554 5.7.1 refused"])
        mail = compose(OWNER, pair.buyer_relay, subject=f"発送 {pair.order.order_id}")
        assert gateway.send(OWNER, pair.buyer_relay, mail)[0] == 250
    deliver_all()
    for email, kind in fate.items():
        if kind == "temporary_then_ok":
            del sink.answers[email]
    due_now()
    deliver_all()

    expected = {
        "ok": (Delivery.State.DELIVERED, 1),
        "temporary_then_ok": (Delivery.State.DELIVERED, 2),
        "temporary_always": (Delivery.State.FAILED, 2),
        "permanent": (Delivery.State.FAILED, 1),
    }
    for email, kind in fate.items():
        delivery = Delivery.objects.get(recipient=email)
        assert (delivery.state, delivery.attempts) == expected[kind], (email, kind)
    notices = [m for m in sink.messages if m.rcpt_tos == [OWNER]]
    failed = [kind for kind in fate.values() if expected[kind][0] == Delivery.State.FAILED]
    assert len(notices) == len(failed)  # the seller is told of each failure, once
    for notice in notices:
        readable = everything_readable(notice.data)
        assert not any(email in readable for email in fate)  # by relay address only
