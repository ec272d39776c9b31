"""Marketplace customer service (SPEC F9) as the buyer meets it: its answer is labelled as customer
service on every page and comes from a relay identity of its own, so that a buyer who answers by
mail reaches the customer-service queue of the conversation, never the seller and never a dead end."""

from __future__ import annotations

import pytest
from django.test import Client

from marketmsg.accounts.models import User
from marketmsg.addresses import customer_service
from marketmsg.conversations import compose
from marketmsg.conversations.models import Message
from marketmsg.conversations.services import answer_as_marketplace
from tests.support.delivery import deliver_all
from tests.support.mail import compose as mail
from tests.support.mail import everything_readable, parse
from tests.support.personas import PASSWORD, make_order, make_pair

pytestmark = pytest.mark.db
TARO = "taro.yamada@example.jp"
OWNER = "owner@sakura-books.example.jp"


def test_a_buyer_answers_customer_service_by_mail_and_it_reaches_the_queue_not_the_seller(gateway, sink):
    pair = make_pair()
    fba = make_order(pair.seller, pair.buyer, fulfillment="FBA")
    question = mail(
        TARO,
        pair.seller_relay,
        subject=f"使い方 {fba.order_id}",
        body="電源が入りません。",
        message_id="<q@ex.jp>",
    )
    assert gateway.send(TARO, pair.seller_relay, question)[0] == 250
    item = Message.objects.get(author=Message.Author.BUYER)
    assert item.state == Message.State.CUSTOMER_SERVICE
    deliver_all()  # the buyer is told at once that customer service will answer, by a mail that
    [told] = [parse(m.data) for m in sink.messages]  # a reply to reaches customer service too
    assert customer_service.conversation_id_of(told["From"].addresses[0].addr_spec) == item.conversation_id
    assert told["Auto-Submitted"] == "auto-replied" and sink.messages[0].mail_from == "<>"  # null sender
    sink.messages.clear()
    staff = User.objects.create_user("cs@marketplace.example", PASSWORD, name="窓口", role=User.Role.STAFF)
    answer_as_marketplace(item, "電源ボタンを3秒押してください。", staff)
    deliver_all()
    assert not [m for m in sink.messages if OWNER in m.rcpt_tos]  # the seller hears nothing
    [received] = [parse(m.data) for m in sink.messages if "電源ボタン" in everything_readable(m.data)]
    sender = received["From"].addresses[0]
    assert sender.display_name == customer_service.NAME
    assert customer_service.conversation_id_of(sender.addr_spec) == item.conversation_id
    assert sender.addr_spec.endswith("@marketplace.example") and "no-reply" not in sender.addr_spec
    assert received["In-Reply-To"] == "<q@ex.jp>"  # threaded under the buyer's own question
    notices_before = Message.objects.filter(author=Message.Author.MARKETPLACE, is_auto=True).count()

    # The buyer answers it from their mail client.
    reply = mail(
        TARO,
        sender.addr_spec,
        subject="Re: 使い方",
        body="押しても入りません。",
        In_Reply_To=received["Message-ID"],
    )
    code, text = gateway.send(TARO, sender.addr_spec, reply)
    assert code == 250, text
    follow_up = Message.objects.get(text__contains="押しても入りません")
    assert follow_up.state == Message.State.CUSTOMER_SERVICE
    assert follow_up.conversation_id == item.conversation_id and follow_up.author == Message.Author.BUYER
    assert TARO not in follow_up.text
    sink.messages.clear()
    deliver_all()
    assert sink.messages == []  # not to the seller, and no second "customer service will answer"
    assert Message.objects.filter(author=Message.Author.MARKETPLACE, is_auto=True).count() == notices_before
    # Their vacation auto-reply to a later answer stays with customer service too.
    auto = mail(TARO, sender.addr_spec, subject="不在", body="不在です。", Auto_Submitted="auto-replied")
    assert gateway.send(TARO, sender.addr_spec, auto)[0] == 250
    deliver_all()
    assert sink.messages == []

    queue = Client()
    assert queue.login(username="cs@marketplace.example", password=PASSWORD)
    assert "押しても入りません" in queue.get("/staff/customer-service/").content.decode()
    buyer = Client()
    assert buyer.login(username=TARO, password=PASSWORD)
    page = buyer.get(f"/my/messages/{item.conversation_id}/").content.decode()
    answer_bubble = page.split("電源ボタンを3秒押してください")[0].rsplit("<li", 1)[1]
    assert "マーケットプレイス カスタマーサービス" in answer_bubble and pair.seller.name not in answer_bubble
    assert "カスタマーサービスへ" in page  # the buyer's own messages say where they went


def test_only_the_buyer_writes_to_customer_service_and_a_forged_address_is_unknown(gateway, sink):
    pair = make_pair()
    fba = make_order(pair.seller, pair.buyer, fulfillment="FBA")
    item = compose.contact_seller(pair.buyer.user, fba, "return", "返品したいです。")
    assert item.state == Message.State.CUSTOMER_SERVICE
    address = customer_service.address_for(item.conversation_id, "marketplace.example")
    code, text = gateway.send(
        "stranger@elsewhere.example", address, mail("stranger@elsewhere.example", address)
    )
    assert code == 550 and "Only the buyer" in text
    forged = f"cs-{item.conversation_id}-{'0' * 12}@marketplace.example"  # a guessed signature
    assert customer_service.conversation_id_of(forged) is None
    code, _ = gateway.send(TARO, forged, mail(TARO, forged))
    assert code == 550
