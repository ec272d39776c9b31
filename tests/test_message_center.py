"""The message center through Django's test client: web and mail are one channel, no-reply marks,
Manage orders, the order report, the buyer side, languages and time zones."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC

import pytest
from django.test import Client

from marketmsg.conversations import noreply_link
from marketmsg.conversations.models import Conversation, Message
from marketmsg.delivery.models import Delivery
from marketmsg.orders.models import OrderItem
from tests.support.delivery import deliver_all
from tests.support.mail import compose, everything_readable, parse
from tests.support.personas import (
    PASSWORD,
    buyer_writes_on_the_web,
    make_buyer,
    make_order,
    make_pair,
    make_seller,
)

pytestmark = pytest.mark.db

OWNER = "owner@sakura-books.example.jp"
TARO = "taro.yamada@example.jp"


def signed_in(client: Client, email: str) -> Client:
    assert client.login(username=email, password=PASSWORD)
    return client


def buyer_mails_seller(gateway, pair, subject: str = "注文について", body: str = "いつ届きますか？") -> str:  # type: ignore[no-untyped-def]
    """Taro writes from his own mail client; returns the Message-ID his client gave the mail."""
    message_id = f"<taro-{abs(hash((subject, body)))}@example.jp>"
    mail = compose(
        TARO, pair.seller_relay, subject=f"{subject} {pair.order.order_id}", body=body, message_id=message_id
    )
    assert gateway.send(TARO, pair.seller_relay, mail)[0] == 250
    return message_id


def test_web_reply_reaches_the_buyer_threaded_under_his_mail_and_his_mail_reply_shows_at_once(
    gateway, sink, client
):
    pair = make_pair()
    taro_id = buyer_mails_seller(gateway, pair)
    deliver_all()
    incoming = Message.objects.get()
    signed_in(client, OWNER)
    page = client.get(f"/messages/{incoming.conversation_id}/").content.decode()
    assert "いつ届きますか" in page and TARO not in page and pair.order.order_id in page

    answer = client.post(f"/messages/{incoming.conversation_id}/", {"text": "明日発送します。"})
    assert answer.status_code == 302
    sent = Message.objects.get(author=Message.Author.SELLER)
    assert sent.channel == Message.Channel.WEB and sent.state == Message.State.RELAYED
    incoming.refresh_from_db()
    assert not incoming.needs_reply  # answered: it leaves the "response needed" view
    assert (
        f"Re: 注文について {pair.order.order_id}"
        in client.get("/messages/", {"box": "sent"}).content.decode()
    )

    sink.messages.clear()
    deliver_all()
    [caught] = sink.messages
    mail = parse(caught.data)
    assert caught.rcpt_tos == [TARO]
    assert mail["From"].addresses[0].addr_spec == pair.seller_relay
    assert mail["In-Reply-To"] == taro_id and taro_id in mail["References"]
    assert mail["Subject"].startswith("Re: ") and OWNER not in everything_readable(caught.data)

    # Taro answers the web reply from his mail client: it threads into the same conversation.
    again = compose(
        TARO,
        pair.seller_relay,
        subject=f"Re: {mail['Subject']}",
        body="ありがとうございます",
        In_Reply_To=mail["Message-ID"],
    )
    assert gateway.send(TARO, pair.seller_relay, again)[0] == 250
    page = client.get(f"/messages/{incoming.conversation_id}/").content.decode()
    assert "ありがとうございます" in page
    assert Conversation.objects.count() == 1


def test_no_reply_needed_checkbox_marks_and_sends_nothing(gateway, sink, client):
    pair = make_pair()
    buyer_mails_seller(gateway, pair, body="ありがとうございました！")
    incoming = Message.objects.get()
    deliveries = Delivery.objects.count()
    signed_in(client, OWNER)
    url = f"/messages/{incoming.conversation_id}/"

    both = client.post(url, {"text": "どういたしまして", "no_reply_needed": "1"})
    assert both.status_code == 200 and "何も送信されません" in both.content.decode()
    incoming.refresh_from_db()
    assert incoming.needs_reply and incoming.marked_no_reply_at is None  # nothing happened

    assert client.post(url, {"text": "", "no_reply_needed": "1"}).status_code == 302
    incoming.refresh_from_db()
    assert not incoming.needs_reply and incoming.marked_no_reply_at is not None
    assert incoming.marked_no_reply_by is not None and incoming.marked_no_reply_by.email == OWNER
    assert Message.objects.count() == 1 and Delivery.objects.count() == deliveries  # nothing sent
    default_view = client.get("/messages/").content.decode()
    assert pair.order.order_id not in default_view
    everything = client.get("/messages/", {"box": "received"}).content.decode()
    assert "返信不要" in everything and pair.order.order_id in everything


def test_relayed_buyer_mail_carries_a_signed_link_that_only_a_post_uses(gateway, sink, client, settings):
    settings.PUBLIC_URL = "https://messages.marketplace.example"
    pair = make_pair()
    buyer_mails_seller(gateway, pair)
    deliver_all()
    [caught] = sink.messages
    text = everything_readable(caught.data)
    assert "このメッセージを返信不要としてマークするには、こちらをクリックします" in text
    plain = parse(caught.data).get_body(("plain",))
    assert plain is not None
    link = re.search(r"https://messages\.marketplace\.example(/no-reply/[^/\s]+/)", plain.get_content())
    assert link is not None
    path = link.group(1)
    incoming = Message.objects.get()

    page = client.get(path)  # a mail scanner, or the seller looking: nothing changes
    assert page.status_code == 200 and "返信不要としてマーク" in page.content.decode()
    incoming.refresh_from_db()
    assert incoming.needs_reply and incoming.marked_no_reply_at is None

    signed_in(client, TARO)  # whoever holds the link may mark; only the shop's own users are named
    done = client.post(path)
    assert done.status_code == 200 and "返信不要としてマークしました" in done.content.decode()
    incoming.refresh_from_db()
    assert not incoming.needs_reply and incoming.marked_no_reply_at is not None
    assert incoming.marked_no_reply_by is None
    assert "すでに返信不要" in client.get(path).content.decode()

    token = path.split("/")[2]
    tampered = client.post(f"/no-reply/{token[:-2]}xx/")
    assert tampered.status_code == 400 and "無効" in tampered.content.decode()
    other = client.get(f"/no-reply/{noreply_link.token_for(10**9)}/")
    assert other.status_code == 404
    settings.NO_REPLY_LINK_MAX_AGE = -1
    expired = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert expired.status_code == 400 and "expired" in expired.content.decode()


def test_seller_messages_carry_no_link_and_a_seller_link_does_not_work(gateway, sink, client):
    pair = make_pair()
    signed_in(client, OWNER)
    client.post(f"/orders/{pair.order.order_id}/contact/", {"subject": "発送", "text": "発送しました"})
    deliver_all()
    [caught] = sink.messages
    assert "/no-reply/" not in caught.data.decode()
    seller_message = Message.objects.get()
    assert client.get(f"/no-reply/{noreply_link.token_for(seller_message.pk)}/").status_code == 404


def test_contact_buyer_from_manage_orders_lands_under_sent_and_in_the_buyers_mailbox(gateway, sink, client):
    pair = make_pair()
    signed_in(client, OWNER)
    orders = client.get("/orders/").content.decode()
    assert f"/orders/{pair.order.order_id}/contact/" in orders and "山田 太郎" in orders
    form = client.get(f"/orders/{pair.order.order_id}/contact/").content.decode()
    assert pair.order.order_id in form
    empty = client.post(f"/orders/{pair.order.order_id}/contact/", {"subject": "発送", "text": "  "})
    assert "メッセージを入力" in empty.content.decode() and not Message.objects.exists()

    sent = client.post(
        f"/orders/{pair.order.order_id}/contact/", {"subject": "発送のご連絡", "text": "本日発送しました。"}
    )
    message = Message.objects.get()
    assert sent.url == f"/messages/{message.conversation_id}/"
    assert message.conversation.order == pair.order and pair.order.order_id in message.subject
    listed = client.get("/messages/", {"box": "sent"}).content.decode()
    assert "発送のご連絡" in listed and "送信済み" in listed
    deliver_all()
    [caught] = sink.messages
    assert caught.rcpt_tos == [TARO]
    assert parse(caught.data)["From"].addresses[0].addr_spec == pair.seller_relay


@pytest.mark.django_db
def test_order_report_lists_each_item_with_the_buyers_relay_address(client):
    pair = make_pair()
    OrderItem.objects.create(order=pair.order, asin="B0HOSTILE1", title='=HYPERLINK("http://x")')
    hanako = make_buyer("hanako@docomo.ne.jp", "佐藤 花子")
    second = make_order(pair.seller, hanako, asin="B0MOBILE01")
    signed_in(client, OWNER)
    assert "注文レポート" in client.get("/orders/report/").content.decode()

    tsv = client.get("/orders/report/", {"download": "1", "format": "tsv"})
    assert tsv.status_code == 200 and tsv["Content-Disposition"].startswith("attachment;")
    body = b"".join(tsv.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body), dialect="excel-tab"))
    assert rows[0][:4] == ["order-id", "purchase-date", "buyer-name", "buyer-relay-email"]
    assert len(rows) == 1 + 3  # one row per item
    by_asin = {row[5]: row for row in rows[1:]}
    assert by_asin["B0C1X2Y3Z4"][3] == pair.buyer_relay
    assert by_asin["B0MOBILE01"][0] == second.order_id
    assert by_asin["B0MOBILE01"][3].endswith("@m.marketplace.example")  # mobile buyers: mobile domain
    assert by_asin["B0HOSTILE1"][6].startswith("'=")  # a spreadsheet shows it, does not run it
    assert TARO not in body and "hanako@docomo.ne.jp" not in body

    excel = client.get("/orders/report/", {"download": "1", "format": "csv"})
    data = b"".join(excel.streaming_content)  # type: ignore[attr-defined]
    assert data.startswith("\ufeff".encode()) and pair.buyer_relay.encode() in data

    bad = client.get("/orders/report/", {"download": "1", "from": "2026-13-01", "to": "2026-01-01"})
    assert bad.status_code == 400 and "2026-13-01" in bad.content.decode()
    backwards = client.get("/orders/report/", {"download": "1", "from": "2026-02-01", "to": "2026-01-01"})
    assert backwards.status_code == 400 and "開始日が終了日より後" in backwards.content.decode()


def test_buyer_contacts_the_seller_by_topic_and_asks_about_a_product(gateway, sink, client):
    pair = make_pair()
    signed_in(client, TARO)
    orders = client.get("/my/orders/").content.decode()
    assert pair.order.order_id in orders and pair.seller.name in orders and OWNER not in orders

    url = f"/my/orders/{pair.order.order_id}/contact/"
    no_topic = client.post(url, {"text": "届きません"})
    assert "お問い合わせの内容を選んでください" in no_topic.content.decode()
    done = client.post(url, {"topic": "shipping", "text": "まだ届きません。"})
    message = Message.objects.get()
    assert done.url == f"/my/messages/{message.conversation_id}/"
    assert message.author == Message.Author.BUYER and message.needs_reply
    assert "配送について" in message.subject and pair.order.order_id in message.subject

    # Before purchase: a question about an ASIN the shop sells.
    unknown = client.get("/my/ask/", {"asin": "B0NOSUCH00"}).content.decode()
    assert "出品している出品者はいません" in unknown
    form = client.get("/my/ask/", {"asin": "b0c1x2y3z4"}).content.decode()
    assert pair.seller.name in form
    asked = client.post(
        "/my/ask/?asin=B0C1X2Y3Z4",
        {"asin": "B0C1X2Y3Z4", "seller": pair.seller.pk, "text": "在庫はありますか？"},
    )
    question = Message.objects.latest("id")
    assert asked.url == f"/my/messages/{question.conversation_id}/"
    assert question.conversation.order is None and question.conversation.asin == "B0C1X2Y3Z4"
    listed = client.get("/my/messages/").content.decode()
    assert "B0C1X2Y3Z4" in listed and pair.order.order_id in listed

    # The seller finds both in the default view and by ASIN; the relayed mail hides Taro's address.
    client.logout()
    signed_in(client, OWNER)
    found = client.get("/messages/", {"box": "received", "q": "B0C1X2Y3Z4"}).content.decode()
    assert "在庫" not in found  # lists show subjects, not bodies
    assert found.count("/messages/") >= 2 and "B0C1X2Y3Z4" in found
    deliver_all()
    assert len(sink.messages) == 2
    for caught in sink.messages:
        assert caught.rcpt_tos == [OWNER] and TARO not in everything_readable(caught.data)

    # The seller's web answer reaches Taro, and his web reply goes back the same way.
    client.post(f"/messages/{question.conversation_id}/", {"text": "在庫ございます。"})
    client.logout()
    signed_in(client, TARO)
    page = client.get(f"/my/messages/{question.conversation_id}/").content.decode()
    assert "在庫ございます" in page and OWNER not in page
    client.post(f"/my/messages/{question.conversation_id}/", {"text": "では注文します。"})
    assert Message.objects.filter(conversation=question.conversation).count() == 3


def test_held_seller_mail_is_not_shown_to_the_buyer(gateway, client):
    pair = make_pair()
    stranger = "helper@gmail.example"
    mail = compose(stranger, pair.buyer_relay, subject=f"注文 {pair.order.order_id}", body="保留されるはず")
    assert gateway.send(stranger, pair.buyer_relay, mail)[0] == 250
    held = Message.objects.get()
    assert held.state == Message.State.HELD
    signed_in(client, TARO)
    page = client.get(f"/my/messages/{held.conversation_id}/").content.decode()
    assert "保留されるはず" not in page
    client.logout()
    signed_in(client, OWNER)
    page = client.get(f"/messages/{held.conversation_id}/").content.decode()
    assert "保留されるはず" in page and "保留中" in page
    # The marketplace's own notices are stored in the conversation but never listed as messages.
    Message.objects.create(
        conversation=held.conversation,
        seller=pair.seller,
        author=Message.Author.MARKETPLACE,
        channel=Message.Channel.SYSTEM,
        subject="配信できませんでした",
        text="システム通知の本文",
        outbound_message_id="<notice@marketplace.example>",
    )
    page = client.get(f"/messages/{held.conversation_id}/").content.decode()
    assert "システム通知の本文" not in page
    for box in ("received", "sent"):
        assert "配信できませんでした" not in client.get("/messages/", {"box": box}).content.decode()


@pytest.mark.django_db
def test_nobody_reaches_anothers_conversation_order_or_pages(client):
    pair = make_pair()
    from tests.support.personas import make_seller

    other_shop = make_seller("他店 Other Shop", "owner@other.example.jp")
    hanako = make_buyer("hanako@example.jp", "佐藤 花子")
    other = make_pair(other_shop, hanako)
    client.post("/login/", {})
    signed_in(client, OWNER)
    client.post(f"/orders/{pair.order.order_id}/contact/", {"subject": "a", "text": "b"})
    mine = Message.objects.get().conversation_id
    signed_in(client, "owner@other.example.jp")
    client.post(f"/orders/{other.order.order_id}/contact/", {"subject": "a", "text": "b"})
    theirs = Message.objects.latest("id").conversation_id
    client.logout()

    # Anonymous: every page sends to sign-in.
    for path in (
        "/messages/",
        f"/messages/{mine}/",
        "/orders/",
        "/orders/report/",
        "/my/orders/",
        f"/my/messages/{mine}/",
        "/my/ask/",
        "/account/",
    ):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/login/"), path

    signed_in(client, OWNER)
    assert client.get(f"/messages/{mine}/").status_code == 200
    for path in (
        f"/messages/{theirs}/",
        f"/orders/{other.order.order_id}/contact/",
        "/messages/999999/",
        f"/my/messages/{mine}/",
        "/my/orders/",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/messages/{theirs}/", {"text": "x"}).status_code == 404
    assert client.get(f"/messages/{10**30}/").status_code == 404  # beyond any database integer
    hostile = client.get(
        "/messages/", {"page": "x", "per_page": "-5", "q": "' OR 1=1 --" * 50, "from": "\x00"}
    )
    assert hostile.status_code == 200 and "該当するメッセージはありません" in hostile.content.decode()
    client.logout()

    signed_in(client, TARO)
    assert client.get(f"/my/messages/{mine}/").status_code == 200
    for path in (
        f"/my/messages/{theirs}/",
        f"/my/orders/{other.order.order_id}/contact/",
        "/messages/",
        f"/messages/{mine}/",
        "/orders/",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/my/messages/{theirs}/", {"text": "x"}).status_code == 404
    assert Message.objects.count() == 2  # nothing was written by the refused requests


@pytest.mark.django_db
def test_language_switch_and_time_zone(client):
    pair = make_pair()
    signed_in(client, OWNER)
    client.post(f"/orders/{pair.order.order_id}/contact/", {"subject": "発送", "text": "発送しました"})
    message = Message.objects.get()
    japanese = client.get("/messages/", {"box": "sent"}).content.decode()
    assert "送信済みメッセージ" in japanese
    client.post("/i18n/setlang/", {"language": "en", "next": "/messages/"})
    english = client.get("/messages/", {"box": "sent"}).content.decode()
    assert "Sent messages" in english and "送信済みメッセージ" not in english

    tokyo = message.created_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert tokyo.strftime("%Y-%m-%d %H:%M") in english
    bad = client.post("/account/", {"time_zone": "Mars/Olympus"})
    assert "Unknown time zone" in bad.content.decode()
    client.post("/account/", {"time_zone": "America/Los_Angeles"})
    la = message.created_at.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
    assert la.strftime("%Y-%m-%d %H:%M") in client.get("/messages/", {"box": "sent"}).content.decode()


@pytest.mark.django_db
def test_a_long_conversation_shows_the_latest_hundred_and_all_on_request(client):
    from marketmsg.conversations.services import conversation_for

    pair = make_pair()
    conversation = conversation_for(pair.seller, pair.buyer, pair.order)
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            seller=pair.seller,
            author=Message.Author.BUYER,
            channel=Message.Channel.WEB,
            subject=f"質問 {n:03d}",
            text=f"本文 {n:03d}",
            outbound_message_id=f"<{n}@marketplace.example>",
        )
        for n in range(105)
    )
    signed_in(client, OWNER)
    page = client.get(f"/messages/{conversation.pk}/").content.decode()
    assert "本文 104" in page and "本文 005" in page and "本文 004" not in page
    assert "以前のメッセージも表示" in page
    everything = client.get(f"/messages/{conversation.pk}/", {"all": "1"}).content.decode()
    assert "本文 000" in everything and "以前のメッセージも表示" not in everything


@pytest.mark.django_db
def test_a_search_looks_in_every_state_and_each_filter_is_a_removable_chip(client):
    pair = make_pair()
    answered = buyer_writes_on_the_web(pair, "配送について", "届きました")
    Message.objects.filter(pk=answered.pk).update(needs_reply=False)  # replied to long ago
    signed_in(client, OWNER)
    order = pair.order.order_id
    # The default view hides it (nothing awaits a reply) ...
    assert f"#m{answered.pk}" not in client.get("/messages/").content.decode()
    # ... but a search from that view (its form sends the collapsed box's "awaiting" too) finds it.
    found = client.get(
        "/messages/", {"box": "received", "status": "awaiting", "q": order, "searching": "1"}
    ).content.decode()
    assert f"#m{answered.pk}" in found
    assert (
        f"検索: {order}" in found and "返信待ちのメッセージのみ" not in found.split('class="chips"')[1][:400]
    )
    # Narrowed afterwards (the box ticked again): a chip says so, and removing it widens again.
    narrowed = client.get(
        "/messages/", {"box": "received", "status": "awaiting", "q": order}
    ).content.decode()
    assert f"#m{answered.pk}" not in narrowed
    chips = dict(re.findall(r'<li class="chip">([^<]+?) <a href="([^"]+)"', narrowed))
    assert set(chips) == {f"検索: {order}", "返信待ちのメッセージのみ"}
    assert f"「{order}」をすべての状態・すべての期間で検索" in narrowed  # the empty row's way out
    widened = client.get(
        "/messages/" + chips["返信待ちのメッセージのみ"].replace("&amp;", "&")
    ).content.decode()
    assert f"#m{answered.pk}" in widened


def test_time_left_of_the_24_hours_reads_as_a_person_would():
    from datetime import datetime, timedelta

    from django.utils import translation

    from marketmsg.metrics.urgency import time_left

    received = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with translation.override("en"):
        assert time_left(received, received + timedelta(hours=1)).text == "23h 00m left"
        assert time_left(received, received + timedelta(hours=20, minutes=30)).level == "soon"
        late = time_left(received, received + timedelta(hours=25, minutes=5))
        assert (late.text, late.level) == ("1h 05m overdue", "overdue")
        assert time_left(received, received + timedelta(days=50)).text == "49 days overdue"
    with translation.override("ja"):
        assert time_left(received, received + timedelta(hours=1)).text == "残り 23時間00分"


@pytest.mark.django_db
def test_awaiting_messages_show_their_time_left_and_sort_by_it(client):
    from datetime import timedelta

    from django.utils import timezone

    pair = make_pair()
    ages = {"古い質問": 23, "新しい質問": 1, "期限切れの質問": 30}
    made = {}
    for subject, hours in ages.items():
        message = buyer_writes_on_the_web(pair, subject)
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(hours=hours))
        made[subject] = message.pk
    signed_in(client, OWNER)
    page = re.sub(
        r'<span aria-hidden="true">([^<]*)</span>', r"\1", client.get("/messages/").content.decode()
    )
    assert 'class="time-left overdue">⏱ 6時間' in page and 'class="time-left ok">⏱ 残り 22時間' in page
    assert 'class="time-left soon">⏱ 残り 0時間' in page
    shown = [
        int(pk)
        for pk in re.findall(r'#m(\d+)"', client.get("/messages/", {"sort": "time_left"}).content.decode())
    ]
    assert shown == [made["期限切れの質問"], made["古い質問"], made["新しい質問"]]
    conversation = Message.objects.get(pk=made["新しい質問"]).conversation_id
    assert "返信期限（24時間）までの残り" in client.get(f"/messages/{conversation}/").content.decode()


@pytest.mark.django_db
def test_no_reply_needed_in_one_click_for_a_row_or_a_selection_and_undo(client):
    from marketmsg.web.quick_mark_views import SESSION_KEY, UNDO_SECONDS

    pair = make_pair()
    first, second, third = (buyer_writes_on_the_web(pair, f"質問 {n}") for n in (1, 2, 3))
    other_shop = make_pair(make_seller("別の店", "owner@other.example.jp"), pair.buyer)
    theirs = buyer_writes_on_the_web(other_shop, "別の店への質問")
    signed_in(client, OWNER)
    page = client.get("/messages/").content.decode()
    assert f'name="one" value="{first.pk}"' in page and f'name="ids" value="{second.pk}"' in page

    def waiting() -> set[int]:
        return set(Message.objects.filter(needs_reply=True).values_list("pk", flat=True))

    answer = client.post(
        "/messages/no-reply/", {"one": str(first.pk), "ids": [str(second.pk)], "next": "/messages/"}
    )
    assert answer.status_code == 302 and answer["Location"] == "/messages/"
    assert waiting() == {second.pk, third.pk, theirs.pk}  # the row's button marks that row only
    client.post("/messages/no-reply/", {"ids": [str(second.pk), str(third.pk), str(theirs.pk)]})
    assert waiting() == {theirs.pk}  # another shop's message is never touched
    listing = client.get("/messages/").content.decode()
    assert "2 件を返信不要にしました。" in listing and "元に戻す" in listing
    client.post("/messages/no-reply/undo/", {"next": "/messages/?box=received"})
    assert waiting() == {second.pk, third.pk, theirs.pk}
    assert "元に戻す" not in client.get("/messages/").content.decode()  # offered once
    # Too late: the offer has run out, and the marks stay.
    client.post("/messages/no-reply/", {"one": str(second.pk)})
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "at": session[SESSION_KEY]["at"] - UNDO_SECONDS - 1}
    session.save()
    late = client.post("/messages/no-reply/undo/", follow=True).content.decode()
    assert "元に戻せる時間を過ぎました" in late and second.pk not in waiting()


@pytest.mark.django_db
def test_a_blocked_reply_looks_unlike_a_delivered_one(client):
    pair = make_pair()
    asked = buyer_writes_on_the_web(pair, "質問")
    signed_in(client, OWNER)
    url = f"/messages/{asked.conversation_id}/"
    client.post(url, {"text": "詳しくは https://example-shop.com/sale をご覧ください"})
    client.post(url, {"text": "明日発送いたします。"})
    blocked, sent = Message.objects.filter(author=Message.Author.SELLER).order_by("id")
    assert (blocked.state, sent.state) == (Message.State.BLOCKED, Message.State.RELAYED)
    page = client.get(url).content.decode()
    assert re.search(rf'id="m{blocked.pk}" class="bubble mine blocked"', page)
    assert re.search(rf'id="m{sent.pk}" class="bubble mine"', page)


@pytest.mark.django_db
def test_the_buyer_sees_subjects_snippets_and_what_is_new_since_their_last_visit(client):
    pair = make_pair()
    asked = buyer_writes_on_the_web(pair, "配送について")
    signed_in(client, TARO)
    listing = client.get("/my/messages/").content.decode()
    assert "あなた: 配送について" in listing and "教えてください" in listing and "新しい返信" not in listing
    seller = Client()
    signed_in(seller, OWNER)
    seller.post(f"/messages/{asked.conversation_id}/", {"text": "明日発送いたします。よろしくお願いします。"})
    listing = client.get("/my/messages/").content.decode()
    assert "新しい返信" in listing and "明日発送いたします" in listing and 'class="unread"' in listing
    client.get(f"/my/messages/{asked.conversation_id}/")  # read
    assert "新しい返信" not in client.get("/my/messages/").content.decode()


@pytest.mark.django_db
def test_the_settings_page_has_sections_and_names_time_zones_as_people_read_them(client):
    make_pair()
    signed_in(client, OWNER)
    page = client.get("/account/").content.decode()
    assert [h for h in re.findall(r'<h2 id="(s-[a-z]+)"', page)] == ["s-time", "s-shop", "s-security"]
    assert '<option value="Asia/Tokyo" selected>(UTC+09:00) 日本（東京）</option>' in page
    assert '<option value="America/Sao_Paulo" >(UTC-03:00) Sao Paulo — America/Sao_Paulo</option>' in page
    assert client.post("/account/", {"time_zone": "Europe/London"}).status_code == 302
    buyer = Client()
    signed_in(buyer, TARO)
    assert re.findall(r'<h2 id="(s-[a-z]+)"', buyer.get("/account/").content.decode()) == [
        "s-time",
        "s-security",
        "s-messages",
    ]


@pytest.mark.django_db
def test_a_reply_the_guidelines_stop_keeps_its_files_for_the_corrected_one(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from marketmsg.conversations.models import Attachment
    from tests.support import files

    pair = make_pair()
    asked = buyer_writes_on_the_web(pair, "領収書について")
    signed_in(client, OWNER)
    url = f"/messages/{asked.conversation_id}/"
    refused = client.post(
        url,
        {
            "text": "詳しくは https://example-shop.com/sale をご覧ください",
            "files": [
                SimpleUploadedFile("領収書.pdf", files.pdf(), "application/pdf"),
                SimpleUploadedFile("memo.txt", b"memo", "text/plain"),
            ],
        },
    )
    page = refused.content.decode()
    blocked = Message.objects.get(author=Message.Author.SELLER, state=Message.State.BLOCKED)
    kept = list(Attachment.objects.filter(message=blocked).order_by("pk"))
    assert [a.filename for a in kept] == ["領収書.pdf", "memo.txt"]
    assert all(f'name="carry" value="{a.pk}" checked' in page for a in kept)
    # Corrected text, the PDF still ticked and the memo unticked: the PDF goes with it.
    sent = client.post(url, {"text": "領収書を添付いたします。", "carry": [str(kept[0].pk)]})
    assert sent.status_code == 302
    delivered = Message.objects.get(author=Message.Author.SELLER, state=Message.State.RELAYED)
    assert [a.filename for a in delivered.attachments.all()] == ["領収書.pdf"]
    assert delivered.attachments.get().sha256 == kept[0].sha256
    # Another conversation's (or a delivered message's) files cannot be pulled in by ID.
    other = buyer_writes_on_the_web(
        make_pair(pair.seller, make_buyer("hanako@example.jp", "佐藤 花子")), "別件"
    )
    client.post(f"/messages/{other.conversation_id}/", {"text": "了解です。", "carry": [str(kept[1].pk)]})
    latest = Message.objects.filter(conversation=other.conversation, author=Message.Author.SELLER).get()
    assert not latest.attachments.exists()
