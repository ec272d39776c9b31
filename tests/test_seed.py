"""`marketmsg seed`: the JSON it writes matches what it stored, and every seeded person can sign in."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from marketmsg.addresses.models import RelayAddress
from marketmsg.conversations.models import Message
from marketmsg.delivery.models import Delivery
from marketmsg.metrics import response_times
from marketmsg.orders.models import Order

pytestmark = pytest.mark.db
RELAY = re.compile(r"^[0-9a-f]{16}@(m\.)?marketplace\.example$")


@pytest.mark.django_db
def test_seed_writes_the_documented_json_and_stores_the_same_marketplace(tmp_path: Path):
    out = tmp_path / "seed.json"
    call_command(
        "seed",
        "--sellers",
        "4",
        "--buyers",
        "30",
        "--orders",
        "60",
        "--messages",
        "100",
        "--seed",
        "9",
        "--password",
        "pw-Sakura-1",
        "--mobile-share",
        "0.5",
        "--json",
        str(out),
    )
    data = json.loads(out.read_text())
    assert data["relay_domain"] == "marketplace.example"
    assert data["mobile_relay_domain"] == "m.marketplace.example"
    assert data["password"] == "pw-Sakura-1"
    assert len(data["sellers"]) == 4 and len(data["buyers"]) == 30 and len(data["orders"]) == 60
    assert {"id", "name", "owner_email", "user_emails"} <= set(data["sellers"][0])
    assert {"id", "name", "email", "mobile"} <= set(data["buyers"][0])
    assert any(b["mobile"] for b in data["buyers"]) and not all(b["mobile"] for b in data["buyers"])
    buyers = {b["id"]: b for b in data["buyers"]}
    for order in data["orders"]:
        assert re.fullmatch(r"\d{3}-\d{7}-\d{7}", order["order_id"])
        assert order["fulfillment"] in ("MFN", "FBA")
        assert all(re.fullmatch(r"[A-Z0-9]{10}", asin) for asin in order["asins"])
        stored = Order.objects.get(order_id=order["order_id"])
        assert (stored.seller_id, stored.buyer_id) == (order["seller_id"], order["buyer_id"])
        assert sorted(stored.items.values_list("asin", flat=True)) == sorted(order["asins"])
        for key, side in (("buyer_relay_address", "buyer"), ("seller_relay_address", "seller")):
            address = order[key]
            assert RELAY.match(address)
            assert address.startswith(tuple("0123456789abcdef"))
            assert ("@m." in address) == buyers[order["buyer_id"]]["mobile"]
            relay = RelayAddress.objects.get(local_part=address.split("@")[0])
            assert (relay.buyer_id, relay.seller_id, relay.side) == (
                order["buyer_id"],
                order["seller_id"],
                side,
            )
    assert Message.objects.count() == 100
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == 100
    # The seeded history has response times, and the performance figures see them.
    answered = Message.objects.filter(author="buyer", response_seconds__isnull=False)
    assert answered.count() > 10
    for question in answered[:10]:
        reply = Message.objects.filter(conversation=question.conversation, id__gt=question.id).order_by("id")[
            0
        ]
        assert reply.author == "seller"
        assert question.response_seconds == int((reply.created_at - question.created_at).total_seconds())
    seller = data["sellers"][0]["id"]
    recount = response_times.figures(seller, 90)
    assert recount.on_time + recount.answered_late == answered.filter(seller_id=seller).count()
    client = Client()
    people = [
        data["sellers"][0]["owner_email"],
        *data["sellers"][1]["user_emails"],
        data["buyers"][0]["email"],
        data["staff"][0]["email"],
    ]
    for email in people:
        assert client.login(username=email, password="pw-Sakura-1"), email
        client.logout()
    assert not client.login(username=data["buyers"][0]["email"], password="wrong")


@pytest.mark.django_db
def test_seed_to_stdout_and_twice_into_one_database(capsys):
    call_command("seed", "--sellers", "1", "--buyers", "2", "--orders", "3", "--json", "-")
    first = json.loads(capsys.readouterr().out)
    call_command("seed", "--sellers", "1", "--buyers", "2", "--orders", "3", "--json", "-")
    second = json.loads(capsys.readouterr().out)
    assert first["buyers"][0]["email"] != second["buyers"][0]["email"]
    assert Order.objects.count() == 6


@pytest.mark.django_db
def test_seeded_history_is_sealed_like_the_pipelines_own(tmp_path: Path):
    """An export of a seeded conversation verifies: the seeder writes the same record hashes."""
    out = tmp_path / "seed.json"
    call_command(
        "seed", "--sellers", "2", "--buyers", "5", "--orders", "6", "--messages", "12", "--json", str(out)
    )
    order_id = Message.objects.exclude(conversation__order=None).first().conversation.order.order_id
    archive = tmp_path / "export.zip"
    call_command("export-conversation", order_id, "--out", str(archive), stdout=StringIO())
    said = StringIO()
    call_command("verify-export", str(archive), stdout=said)
    assert "every hash matches" in said.getvalue() and "not sealed" not in said.getvalue()


@pytest.mark.django_db
def test_the_demo_world_shows_every_kind_of_person_and_nothing_that_is_not_there():
    from marketmsg.accounts.models import SellerUser, User
    from marketmsg.conversations.models import Attachment, Template
    from marketmsg.demo.seeding import seed

    seed(sellers=3, buyers=8, orders=24, messages=40, rng_seed=7, password="marketmsg", mobile_share=0.25)
    assert User.objects.filter(role=User.Role.STAFF, is_supervisor=True).exists()
    assert User.objects.filter(role=User.Role.STAFF, is_supervisor=False).exists()
    assert SellerUser.objects.filter(is_owner=False).exists()  # someone who answers but does not own
    assert Template.objects.count() >= 3
    # No 📎 without a file behind it, and no seller conversation on an order the marketplace ships
    # while product support is off (those buyers write to customer service).
    with_files = set(Attachment.objects.values_list("message_id", flat=True))
    assert not Message.objects.filter(has_attachments=True).exclude(pk__in=with_files).exists()
    assert not Message.objects.filter(
        conversation__order__fulfillment="FBA", conversation__seller__fba_product_support=False
    ).exists()
