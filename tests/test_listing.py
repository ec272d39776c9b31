"""The message center's lists are exact: every view compared with a plain Python filter of all rows."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from django.utils import timezone, translation

from marketmsg.addresses import services as addresses
from marketmsg.conversations.listing import ListQuery, messages_for
from marketmsg.conversations.models import Conversation, Message
from tests.support.personas import make_buyer, make_order, make_seller

pytestmark = pytest.mark.db

NOW = timezone.make_aware(datetime(2026, 11, 20, 15, 0))
ASINS = ["B0AAAAAAA1", "B0BBBBBBB2", "B0CCCCCCC3"]


@pytest.fixture
def marketplace(db):  # type: ignore[no-untyped-def]
    """Two sellers, four buyers, their orders and about 300 messages spread over 120 days."""
    rng = random.Random(7)
    shop, other = make_seller(), make_seller("Other shop", "owner@other.example.jp")
    buyers = [make_buyer(f"buyer{n}@example.jp", f"Buyer {n}") for n in range(4)]
    messages = []
    for seller in (shop, other):
        for buyer in buyers:
            addresses.relay_pair(buyer, seller)
            for asin in ASINS[: rng.randint(1, 3)]:
                order = make_order(seller, buyer, asin=asin)
                conversation = Conversation.objects.create(seller=seller, buyer=buyer, order=order)
                for _ in range(rng.randint(3, 12)):
                    author = rng.choice(
                        [Message.Author.BUYER, Message.Author.SELLER, Message.Author.MARKETPLACE]
                    )
                    messages.append(
                        Message(
                            conversation=conversation,
                            seller=seller,
                            author=author,
                            channel=Message.Channel.MAIL,
                            sender_email=rng.choice(
                                ["owner@sakura-books.example.jp", "cs@sakura-books.example.jp"]
                            )
                            if author == Message.Author.SELLER
                            else buyer.email,
                            subject=f"注文 {order.order_id}",
                            has_attachments=rng.random() < 0.2,
                            needs_reply=author == Message.Author.BUYER and rng.random() < 0.5,
                            outbound_message_id=f"<{len(messages)}@marketplace.example>",
                            created_at=NOW - timedelta(hours=rng.uniform(0, 24 * 120)),
                        )
                    )
            Conversation.objects.create(seller=seller, buyer=buyer, asin=ASINS[0])
    Message.objects.bulk_create(messages)
    return shop, buyers


def reference(shop, query: ListQuery) -> list[int]:  # type: ignore[no-untyped-def]
    """The same view, written the slow and obvious way."""
    since, until = query.since_until(NOW)
    wanted = Message.Author.BUYER if query.box == "received" else Message.Author.SELLER
    found = []
    for m in Message.objects.select_related("conversation__order").prefetch_related(
        "conversation__order__items"
    ):
        conversation = m.conversation
        if conversation.seller_id != shop.pk or m.author != wanted:
            continue
        if query.awaiting_reply and not m.needs_reply:
            continue
        if query.attachments_only and not m.has_attachments:
            continue
        if (since and m.created_at < since) or (until and m.created_at >= until):
            continue
        if query.search:
            order = conversation.order
            asins = {item.asin for item in order.items.all()} if order else set()
            relay = addresses.relay_pair(conversation.buyer, shop).buyer_address.address
            text = query.search
            if not (
                (order and text == order.order_id)
                or text.upper() in asins
                or text.upper() == conversation.asin
                or text.lower() == relay
                or (m.author == Message.Author.SELLER and text.lower() == m.sender_email)
            ):
                continue
        found.append(m)
    found.sort(key=lambda m: (m.created_at, m.pk), reverse=True)
    return [m.pk for m in found]


def test_every_combination_of_search_filters_and_box_matches_the_reference(marketplace):
    shop, buyers = marketplace
    some_order = shop.orders.order_by("id").first().order_id
    relay = addresses.relay_pair(buyers[1], shop).buyer_address.address
    searches = [
        "",
        some_order,
        "b0bbbbbbb2",
        relay.upper(),
        "cs@sakura-books.example.jp",
        "注文",
        "503-0000000-0000000",
    ]
    periods = [
        {},
        {"period": "today"},
        {"period": "7"},
        {"period": "30"},
        {"period": "90"},
        {"period": "custom", "from": "2026-10-01", "to": "2026-10-31"},
    ]
    checked = nonempty = 0
    for box in ("received", "sent"):
        for q in searches:
            for period in periods:
                for status in ("", "awaiting"):
                    for attachments in ("", "1"):
                        params = {"box": box, "q": q, "status": status, "attachments": attachments, **period}
                        query = ListQuery.from_params(params)
                        got = list(messages_for(shop, query, now=NOW).values_list("pk", flat=True))
                        assert got == reference(shop, query), params
                        checked += 1
                        nonempty += bool(got)
    assert checked == 2 * 7 * 6 * 2 * 2 and nonempty > checked // 4


def test_the_bare_url_is_the_response_needed_view_and_bad_values_fall_back_with_a_note():
    assert ListQuery.from_params({}).awaiting_reply is True
    assert ListQuery.from_params({"box": "received"}).awaiting_reply is False
    pager = ListQuery.from_params({"page": "2", "per_page": "50"})  # the pager on the bare URL
    assert pager.awaiting_reply is True
    query = ListQuery.from_params({"per_page": "7", "page": "-3", "period": "forever"})
    assert (query.per_page, query.page, query.period) == (25, 1, "")
    assert query.errors and "期間" in query.errors[0]  # Japanese unless English was asked for
    with translation.override("en"):
        assert "period" in ListQuery.from_params({"period": "forever"}).errors[0]
    backwards = ListQuery.from_params({"period": "custom", "from": "2026-11-02", "to": "2026-11-01"})
    assert backwards.date_from is None and backwards.errors


def test_a_seller_never_sees_another_sellers_messages(marketplace):
    shop, _ = marketplace
    for box in ("received", "sent"):
        listed = messages_for(shop, ListQuery.from_params({"box": box}), now=NOW)
        assert listed.exists()
        assert not listed.exclude(conversation__seller=shop).exists()
        assert not listed.filter(author=Message.Author.MARKETPLACE).exists()


def test_every_page_the_seller_sees_is_the_matching_slice_of_the_reference(marketplace, client):
    """Through the web view: walk each page and compare the rows it links to with the reference."""
    import re

    from tests.support.personas import PASSWORD

    shop, buyers = marketplace
    assert client.login(username="owner@sakura-books.example.jp", password=PASSWORD)
    relay = addresses.relay_pair(buyers[1], shop).buyer_address.address
    views = [
        {},
        {"box": "received", "period": "custom", "from": "2026-09-01", "to": "2026-11-10"},
        {"box": "received", "q": ASINS[1], "attachments": "1"},
        {"box": "received", "q": relay, "status": "awaiting"},
        {"box": "sent", "q": "cs@sakura-books.example.jp"},
    ]
    for params in views:
        for per_page in (10, 25):
            expected = reference(shop, ListQuery.from_params(params))
            pages = max(1, -(-len(expected) // per_page))
            for number in range(1, pages + 1):
                page = client.get("/messages/", {**params, "per_page": per_page, "page": number})
                shown = [int(pk) for pk in re.findall(r'href="/messages/\d+/#m(\d+)"', page.content.decode())]
                assert shown == expected[(number - 1) * per_page : number * per_page], (params, number)


def test_searches_matching_many_conversations_take_the_subquery_path_and_stay_exact(marketplace, monkeypatch):
    from marketmsg.conversations import listing

    monkeypatch.setattr(listing, "LITERAL_IDS", 0)  # every search now joins in the database
    shop, buyers = marketplace
    relay = addresses.relay_pair(buyers[2], shop).buyer_address.address
    order_id = Conversation.objects.filter(seller=shop, order__isnull=False).first().order.order_id
    for box in ("received", "sent"):
        for text in (order_id, ASINS[0], ASINS[2].lower(), relay, "cs@sakura-books.example.jp"):
            query = ListQuery.from_params({"box": box, "q": text})
            got = list(messages_for(shop, query, now=NOW).values_list("pk", flat=True))
            assert got == reference(shop, query), (box, text)
