"""A marketplace built only through the operator API, with no seeder: its seller finds the order in
Manage orders and the report, mails the buyer from their own mail client through the SMTP gateway,
the buyer answers by mail, and the marketplace's webhook receiver hears of everything."""

from __future__ import annotations

import csv
import io
from email.utils import parseaddr

import pytest
from django.test import Client
from standardwebhooks.webhooks import Webhook

from marketmsg.accounts.models import User
from marketmsg.webhooks import sender
from tests.support.delivery import deliver_all
from tests.support.mail import compose, everything_readable, parse
from tests.support.personas import PASSWORD
from tests.support.webhook_receiver import Receiver

pytestmark = [pytest.mark.db]
API = "/api/operator/v1"
OWNER, BUYER = "owner@kaede.example", "jiro@example.jp"


def call(client: Client, method: str, path: str, body: object, auth: str) -> dict:  # type: ignore[type-arg]
    answer = getattr(client, method)(
        API + path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {auth}"
    )
    assert answer.status_code in (200, 201), answer.content
    return answer.json()  # type: ignore[no-any-return]


def test_a_marketplace_made_through_the_operator_api_relays_both_ways(gateway, sink):
    from marketmsg.integration.models import OperatorCredential

    _credential, secret = OperatorCredential.issue("shop system", ["catalog", "messages", "webhooks"])
    receiver = Receiver()
    api = Client()
    try:
        hook = call(api, "post", "/webhooks/subscriptions", {"name": "shop", "url": receiver.url}, secret)
        sellers = [{"external_id": "kaede", "name": "楓商店", "users": [{"email": OWNER, "owner": True}]}]
        call(api, "post", "/sellers", {"records": sellers}, secret)
        buyers = [{"external_id": "u-2", "email": BUYER, "name": "田中 次郎"}]
        call(api, "post", "/buyers", {"records": buyers}, secret)
        order = {
            "order_id": "503-7777777-0000001",
            "seller": "kaede",
            "buyer": "u-2",
            "ordered_at": "2026-12-02T08:00:00+09:00",
            "status": "shipped",
            "tracking": {"carrier": "日本郵便", "number": "EJ123456789JP"},
            "items": [{"product_id": "B0KAEDE001", "title": "木のスプーン", "quantity": 3}],
        }
        call(api, "post", "/orders", {"records": [order]}, secret)

        # The seller (who signs in through the marketplace; here with a password) sees the order.
        owner = User.objects.get(email=OWNER)
        owner.set_password(PASSWORD)
        owner.save()
        seller = Client()
        assert seller.login(email=OWNER, password=PASSWORD)
        orders_page = seller.get("/orders/").content.decode()
        assert "503-7777777-0000001" in orders_page and "EJ123456789JP" in orders_page
        assert "発送済み" in orders_page
        report = seller.get("/orders/report/", {"download": "1", "format": "tsv"})
        rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode()), dialect="excel-tab"))  # type: ignore[attr-defined]
        (row,) = rows[1:]
        buyer_relay = row[3]
        assert row[0] == "503-7777777-0000001" and row[5] == "B0KAEDE001" and BUYER not in buyer_relay

        # The seller writes from their own mail client; the buyer gets it from a relay address.
        subject = "ご注文 503-7777777-0000001 の発送について"
        assert (
            gateway.send(OWNER, buyer_relay, compose(OWNER, buyer_relay, subject, "本日発送しました。"))[0]
            == 250
        )
        deliver_all()
        (to_buyer,) = sink.messages
        assert to_buyer.rcpt_tos == [BUYER] and OWNER not in everything_readable(to_buyer.data)
        seller_relay = parseaddr(parse(to_buyer.data)["From"])[1]
        # The buyer answers by mail; the seller gets it from the buyer's relay address.
        answer = compose(
            BUYER,
            seller_relay,
            "Re: " + subject,
            "ありがとうございます。",
            **{"In-Reply-To": parse(to_buyer.data)["Message-ID"]},
        )
        assert gateway.send(BUYER, seller_relay, answer)[0] == 250
        deliver_all()
        to_seller = sink.messages[1]
        assert to_seller.rcpt_tos == [OWNER] and BUYER not in everything_readable(to_seller.data)
        assert parseaddr(parse(to_seller.data)["From"])[1] == buyer_relay

        # The marketplace heard of both messages, signed, in order, without a real address.
        while len(receiver.got) < 2:
            sender.run_once()
        payloads = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.wait_for(2)]
        assert [p["type"] for p in payloads] == ["message.sent", "message.received"]
        assert all(p["data"]["order_id"] == "503-7777777-0000001" for p in payloads)
        assert payloads[0]["data"]["seller"]["external_id"] == "kaede"
        assert payloads[1]["data"]["buyer"]["external_id"] == "u-2"
        raw = b"".join(r.body for r in receiver.got).decode()
        assert OWNER not in raw and BUYER not in raw
    finally:
        receiver.close()
