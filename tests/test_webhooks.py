"""Webhooks to the marketplace: written with the change that causes them, signed per Standard
Webhooks (checked with the standardwebhooks package's own verifier), delivered at least once and
in order per conversation to a real HTTP receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from marketmsg.conversations.models import Message
from marketmsg.conversations.services import Draft, post_message, release_held
from marketmsg.delivery.models import Delivery
from marketmsg.relay import worker
from marketmsg.relay.sending import Outcome, SendResult
from marketmsg.webhooks import at_risk, manage, sender
from marketmsg.webhooks.models import Event, Subscription, WebhookAttempt, WebhookDelivery
from tests.support.personas import Pair, make_order, make_pair
from tests.support.webhook_receiver import Receiver

pytestmark = [pytest.mark.db, pytest.mark.django_db]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def pair() -> Pair:
    found = make_pair()
    found.seller.external_id, found.buyer.external_id = "shop-1", "buyer-1"
    found.seller.save()
    found.buyer.save()
    return found


def subscribe(receiver: Receiver, **fields: object) -> Subscription:
    return Subscription.objects.create(name="shop", url=receiver.url, **fields)


def buyer_writes(pair: Pair, text: str = "いつ届きますか？", order: bool = True) -> Message:
    return post_message(
        Draft(
            seller=pair.seller,
            buyer=pair.buyer,
            author=Message.Author.BUYER,
            channel=Message.Channel.WEB,
            subject=f"注文 {pair.order.order_id} について",
            text=text,
            sender_email=pair.buyer.email,
            order=pair.order if order else None,
        )
    )


def seller_writes(pair: Pair, sender_email: str, text: str = "明日発送します。") -> Message:
    return post_message(
        Draft(
            seller=pair.seller,
            buyer=pair.buyer,
            author=Message.Author.SELLER,
            channel=Message.Channel.MAIL,
            subject=f"Re: 注文 {pair.order.order_id} について",
            text=text,
            sender_email=sender_email,
            order=pair.order,
        )
    )


def send_all(receiver: Receiver, count: int, now: timezone.datetime | None = None) -> list[dict]:  # type: ignore[type-arg]
    """Run the sender until the receiver has ``count`` events (driven by the count, not by time)."""
    for _ in range(100):
        if len(receiver.got) >= count:
            break
        sender.run_once(now=now)
    return [r.payload for r in receiver.wait_for(count)]


def test_signed_per_standard_webhooks_and_verified_by_the_package(pair, receiver):
    subscription = subscribe(receiver)
    message = buyer_writes(pair)
    send_all(receiver, 1)
    got = receiver.got[0]
    payload = Webhook(subscription.secret).verify(got.body, got.headers)  # raises if the signature is wrong
    assert payload["type"] == "message.received"
    assert payload["event_id"] == got.event_id
    data = payload["data"]
    assert data["message_id"] == message.pk
    assert data["conversation_id"] == message.conversation_id
    assert data["seller"] == {"id": pair.seller.pk, "external_id": "shop-1"}
    assert data["buyer"] == {"id": pair.buyer.pk, "external_id": "buyer-1"}
    assert data["order_id"] == pair.order.order_id
    assert "text" not in data and "subject" not in data  # bodies only when the subscription asks
    body = got.body.decode()
    assert pair.buyer.email not in body and "いつ届きますか" not in body
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 43).verify(got.body, got.headers)


def test_a_subscription_that_asks_gets_the_bodies(pair, receiver):
    subscribe(receiver, include_bodies=True)
    buyer_writes(pair, "箱が潰れていました")
    (payload,) = send_all(receiver, 1)
    assert payload["data"]["text"] == "箱が潰れていました"


def test_an_event_rolls_back_with_the_change_that_caused_it(pair, receiver):
    subscribe(receiver)
    with pytest.raises(RuntimeError), transaction.atomic():
        buyer_writes(pair)
        assert Event.objects.count() == 1
        raise RuntimeError("the change fails after the message was written")
    assert Event.objects.count() == 0
    sender.run_once()
    assert receiver.got == []


def test_receiver_down_for_minutes_then_back_gets_every_event_once_in_order(pair, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [5, 30, 120, 600]
    subscribe(receiver)
    other = make_pair(seller=pair.seller, buyer=pair.buyer)  # a second order: its own conversation
    written = []
    for n in range(3):
        written.append(buyer_writes(pair, f"質問 {n}"))
        written.append(buyer_writes(other, f"別の注文の質問 {n}"))
    receiver.down = True
    clock = timezone.now()
    while receiver.refused < 12:  # every conversation's first event refused several times
        sender.run_once(now=clock)
        clock += timedelta(minutes=3)  # the sender's clock: minutes pass between passes
    assert receiver.got == []
    assert WebhookAttempt.objects.filter(status=503).count() == receiver.refused
    receiver.down = False
    payloads = send_all(receiver, len(written), now=clock + timedelta(hours=1))
    for _ in range(3):
        sender.run_once(now=clock + timedelta(hours=2))  # nothing more comes
    assert len(receiver.got) == len(written)
    ids = receiver.event_ids()
    assert len(set(ids)) == len(ids), "an event came twice"
    for conversation in {m.conversation_id for m in written}:
        order = [p["data"]["message_id"] for p in payloads if p["data"]["conversation_id"] == conversation]
        assert order == sorted(m.pk for m in written if m.conversation_id == conversation)
    assert not WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING).exists()
    assert Subscription.objects.get().failing_since is None


def test_later_events_of_a_conversation_wait_for_the_first(pair, receiver):
    subscribe(receiver)
    first, second = buyer_writes(pair, "一"), buyer_writes(pair, "二")
    sender.fan_out()
    leased = sender._lease("test", timezone.now())
    assert [d.event.data["message"] for d in leased] == [first.pk]  # not the second, yet
    assert second.pk not in [d.event.data["message"] for d in leased]


def test_each_kind_of_event_is_written_where_it_happens(pair, receiver, settings):
    subscribe(receiver)
    owner = pair.seller.notification_addresses()[0]
    buyer_writes(pair)  # message.received
    seller_writes(pair, owner)  # message.sent
    seller_writes(pair, owner, "詳しくは https://evil.example/ をご覧ください")  # message.blocked
    seller_writes(pair, "helper@elsewhere.example")  # message.held and sender.pending
    release_held(pair.seller, "helper@elsewhere.example")  # message.sent (released)
    fba = make_order(pair.seller, pair.buyer, fulfillment="FBA")
    post_message(
        Draft(
            seller=pair.seller,
            buyer=pair.buyer,
            author=Message.Author.BUYER,
            channel=Message.Channel.WEB,
            subject="FBA",
            text="届きません",
            sender_email=pair.buyer.email,
            order=fba,
        )
    )  # message.routed_to_customer_service
    delivery = Delivery.objects.filter(state=Delivery.State.PENDING).order_by("id").first()
    assert delivery is not None
    Delivery.objects.filter(pk=delivery.pk).update(lease_owner="w", lease_until=timezone.now())
    worker.record(delivery.pk, "w", SendResult(Outcome.PERMANENT, 550, "550 no such user"))  # delivery.failed
    types = list(Event.objects.order_by("id").values_list("type", flat=True))
    assert types == [
        "message.received",
        "message.sent",
        "message.blocked",
        "sender.pending",
        "message.held",
        "message.sent",
        "message.routed_to_customer_service",
        "delivery.failed",
    ]
    blocked = Event.objects.get(type="message.blocked")
    assert "external_link" in blocked.data["rules"]
    payloads = send_all(receiver, len(types))
    assert sorted(p["type"] for p in payloads) == sorted(types)
    everything = b"".join(r.body for r in receiver.got).decode()
    for real in (pair.buyer.email, owner, "helper@elsewhere.example"):
        assert real not in everything


def test_at_risk_once_per_message(pair, receiver, settings):
    settings.AT_RISK_HOURS = 6
    subscribe(receiver)
    message = buyer_writes(pair)
    assert at_risk.look(now=timezone.now()) == 0  # 24 hours ahead: not at risk yet
    later = message.created_at + timedelta(hours=20)
    assert at_risk.look(now=later) == 1
    assert at_risk.look(now=later + timedelta(minutes=5)) == 1  # still at risk, no second event
    assert Event.objects.filter(type="response.at_risk").count() == 1
    payloads = send_all(receiver, 2)
    risk = next(p for p in payloads if p["type"] == "response.at_risk")
    assert risk["data"]["message_id"] == message.pk and risk["data"]["due_at"].endswith("Z")


def test_a_subscription_gets_only_the_events_it_asked_for_and_none_from_before_it(pair, receiver):
    buyer_writes(pair, "before the subscription")
    subscribe(receiver, events="message.sent")
    buyer_writes(pair, "after, but not asked for")
    seller_writes(pair, pair.seller.notification_addresses()[0])
    payloads = send_all(receiver, 1)
    sender.run_once()
    assert [p["type"] for p in payloads] == ["message.sent"] and len(receiver.got) == 1


def test_failing_for_days_disables_and_tells_the_contact(
    pair, receiver, sink, django_capture_on_commit_callbacks
):
    subscription = subscribe(receiver, contact_email="ops@shop.example")
    receiver.down = True
    buyer_writes(pair)
    sender.run_once()
    Subscription.objects.filter(pk=subscription.pk).update(failing_since=timezone.now() - timedelta(days=4))
    with django_capture_on_commit_callbacks(execute=True):
        sender.run_once(now=timezone.now() + timedelta(hours=1))
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.DISABLED
    assert "failed" in subscription.disabled_reason
    (mail,) = sink.messages
    assert mail.rcpt_tos == ["ops@shop.example"] and b"disabled" in mail.data
    # Disabled: nothing is sent, the event waits; enabled again, it is delivered.
    receiver.down = False
    sender.run_once(now=timezone.now() + timedelta(hours=2))
    assert receiver.got == []
    manage.enable(subscription)
    send_all(receiver, 1)


def test_secret_rotation_signs_with_both_secrets(pair, receiver):
    subscription = subscribe(receiver)
    old = subscription.secret
    new = manage.rotate_secret(subscription)
    buyer_writes(pair)
    send_all(receiver, 1)
    got = receiver.got[0]
    assert len(got.headers["webhook-signature"].split()) == 2
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)


def test_replay_sends_the_same_event_again(pair, receiver):
    subscribe(receiver)
    buyer_writes(pair)
    send_all(receiver, 1)
    manage.replay(WebhookDelivery.objects.get())
    send_all(receiver, 2)
    assert receiver.got[0].event_id == receiver.got[1].event_id


def test_sender_pending_names_no_address(pair, receiver):
    subscribe(receiver)
    addresses.record_unknown_sender(pair.seller, "stranger@elsewhere.example")
    addresses.record_unknown_sender(pair.seller, "stranger@elsewhere.example")  # once only
    (payload,) = send_all(receiver, 1)
    sender.run_once()
    assert len(receiver.got) == 1
    sender_row = SenderAddress.objects.get(email="stranger@elsewhere.example")
    assert payload["data"] == {
        "seller": {"id": pair.seller.pk, "external_id": "shop-1"},
        "sender_id": sender_row.pk,
    }
