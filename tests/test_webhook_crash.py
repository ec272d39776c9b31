"""SIGKILL the webhook sender while it is sending: every event still reaches the receiver (at least
once; a repeat has the same event ID). The sender runs as a real process (``marketmsg webhooks``)
against its own database; the marketplace comes in through ``marketmsg import``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import Service
from tests.support.webhook_receiver import Receiver

pytestmark = [pytest.mark.db, pytest.mark.slow]
CONVERSATIONS, PER_CONVERSATION, KILLS = 6, 5, 3

SETUP = """
import django, json, sys
django.setup()
from marketmsg.accounts.models import Buyer, SellerAccount
from marketmsg.conversations.models import Message
from marketmsg.conversations.services import Draft, post_message
from marketmsg.orders.models import Order
from marketmsg.webhooks.models import Event, Subscription
subscription = Subscription.objects.create(name="crash", url=sys.argv[1])
for order in Order.objects.select_related("seller", "buyer__user").order_by("id"):
    for n in range(int(sys.argv[2])):
        post_message(Draft(seller=order.seller, buyer=order.buyer, author="buyer", channel="web",
                           subject=f"{order.order_id} {n}", text=f"question {n}",
                           sender_email=order.buyer.email, order=order))
print(json.dumps({"secret": subscription.secret,
                  "events": list(Event.objects.order_by("id").values_list("event_id", "ordering_key"))}))
"""


def marketplace(path: Path) -> None:
    lines = [
        {
            "type": "seller",
            "external_id": "S1",
            "name": "店",
            "users": [{"email": "o@s1.example", "owner": True}],
        },
        {"type": "buyer", "external_id": "B1", "email": "b1@example.jp", "name": "買い手"},
    ]
    lines += [
        {
            "type": "order",
            "order_id": f"503-000000{n}-0000001",
            "seller": "S1",
            "buyer": "B1",
            "ordered_at": "2026-12-01T09:00:00+09:00",
            "items": [{"product_id": "B0AAAAAAAA", "title": "品", "quantity": 1}],
        }
        for n in range(CONVERSATIONS)
    ]
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")


def test_sigkill_of_the_webhook_sender_loses_no_event(tmp_path: Path, database_url: str):
    receiver = Receiver()
    env = {
        **__import__("os").environ,
        "MARKETMSG_DATABASE_URL": database_url,
        "MARKETMSG_DATA_DIR": str(tmp_path),
        "MARKETMSG_WEBHOOK_POLL_SECONDS": "0.1",
        "MARKETMSG_WEBHOOK_RETRY_SCHEDULE": "0s",
        # A killed sender's leased delivery is taken again after this long (default two minutes).
        "MARKETMSG_WEBHOOK_LEASE_SECONDS": "2",
        "DJANGO_SETTINGS_MODULE": "marketmsg.settings",
        "PYTHONUNBUFFERED": "1",
    }
    run = [sys.executable, "-m", "marketmsg"]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True)
    marketplace(tmp_path / "marketplace.jsonl")
    subprocess.run([*run, "import", "--quiet", str(tmp_path / "marketplace.jsonl")], env=env, check=True)
    made = subprocess.run(
        [sys.executable, "-c", SETUP, receiver.url, str(PER_CONVERSATION)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    setup = json.loads(made.stdout.strip().splitlines()[-1])
    events = [event_id for event_id, _ in setup["events"]]
    assert len(events) == CONVERSATIONS * PER_CONVERSATION
    sender = Service(["webhooks"], env, tmp_path / "webhooks.log")
    try:
        for _ in range(KILLS):
            sender.start()
            receiver.wait_for(len(receiver.got) + 3)  # it delivers a few events
            arrivals = receiver.arrivals
            receiver.release.clear()  # the next request is held: the sender is mid-delivery
            receiver.wait_for_arrival(arrivals + 1)
            sender.kill()
            receiver.release.set()
        sender.start()
        while len(set(receiver.event_ids())) < len(events):
            receiver.wait_for(len(receiver.got) + 1)
    finally:
        sender.stop()
        receiver.close()
    got = receiver.event_ids()
    assert set(got) == set(events), "an event was lost"
    assert len(got) - len(set(got)) <= KILLS, "more repeats than kills"
    keys = dict(setup["events"])
    for key in set(keys.values()):
        wanted = [e for e in events if keys[e] == key]
        seen = [e for e in dict.fromkeys(got) if keys[e] == key]  # first arrival of each
        assert seen == wanted, f"{key}: events out of order"
    assert sender.kills == KILLS
