"""Templates (定型文): saving with checked placeholders, the picker, and filling at send time."""

from __future__ import annotations

import html

import pytest
from django.test import Client

from marketmsg.conversations import placeholders
from marketmsg.conversations.models import Message, Template
from marketmsg.conversations.services import conversation_for
from tests.support.personas import PASSWORD, make_pair, make_seller

OWNER = "owner@sakura-books.example.jp"


def test_placeholders_are_found_filled_and_unknown_ones_reported():
    text = "{buyer_name} 様、注文 {order_id} ({asin} {product_title}) — {seller_name} {coupon} {order_id}"
    assert placeholders.used(text) == [
        "buyer_name",
        "order_id",
        "asin",
        "product_title",
        "seller_name",
        "coupon",
    ]
    assert placeholders.unknown(text) == ["coupon"]
    filled = placeholders.fill(
        text,
        {
            "buyer_name": "山田",
            "order_id": "503-1",
            "asin": "B0",
            "product_title": "本",
            "seller_name": "さくら",
        },
    )
    assert filled == "山田 様、注文 503-1 (B0 本) — さくら {coupon} 503-1"
    assert placeholders.fill("{ not a placeholder } {}", {}) == "{ not a placeholder } {}"


@pytest.mark.db
@pytest.mark.django_db
def test_seller_saves_edits_and_deletes_templates_with_clear_errors(client: Client):
    make_pair()
    assert client.login(username=OWNER, password=PASSWORD)
    assert "まだ定型文はありません" in client.get("/templates/").content.decode()
    bad = client.post("/templates/", {"name": "お礼", "text": "{buyer_name} 様 {coupon} をどうぞ"})
    assert "不明な差し込み項目 {coupon}" in bad.content.decode() and not Template.objects.exists()
    assert "お礼" in bad.content.decode()  # the draft is kept
    assert (
        client.post(
            "/templates/", {"name": "お礼", "text": "{buyer_name} 様、ありがとうございました。"}
        ).status_code
        == 302
    )
    twice = client.post("/templates/", {"name": "お礼", "text": "別の本文"})
    assert "同じ名前の定型文" in twice.content.decode() and Template.objects.count() == 1
    template = Template.objects.get()
    assert (
        client.post(
            f"/templates/{template.pk}/", {"name": "お礼状", "text": "ありがとう {seller_name}"}
        ).status_code
        == 302
    )
    template.refresh_from_db()
    assert (template.name, template.text) == ("お礼状", "ありがとう {seller_name}")
    assert client.get(f"/templates/{template.pk}/delete/").status_code == 405  # GET never deletes
    assert client.post(f"/templates/{template.pk}/delete/").status_code == 302
    assert not Template.objects.exists()


@pytest.mark.db
@pytest.mark.django_db
def test_picker_fills_the_template_for_the_conversation_or_order_and_only_for_its_shop(client: Client):
    pair = make_pair()
    conversation = conversation_for(pair.seller, pair.buyer, pair.order)
    template = Template.objects.create(
        account=pair.seller,
        name="発送",
        text="{buyer_name} 様\n{order_id} の {product_title} ({asin}) を発送しました。{seller_name}",
    )
    assert client.login(username=OWNER, password=PASSWORD)
    box = client.get(
        "/templates/insert/", {"template": template.pk, "conversation": conversation.pk, "text": "こんにちは"}
    ).content.decode()
    text = html.unescape(box)
    assert "こんにちは\n\n山田 太郎 様" in text
    assert (
        f"{pair.order.order_id} の 星の王子さま 文庫 (B0C1X2Y3Z4) を発送しました。さくら書店 Sakura Books"
        in text
    )
    by_order = html.unescape(
        client.get(
            "/templates/insert/", {"template": template.pk, "order": pair.order.order_id}
        ).content.decode()
    )
    filled = by_order.split("<textarea", 1)[1].split(">", 1)[1].split("</textarea>")[0]
    assert "山田 太郎 様" in filled and "{" not in filled
    page = client.get(f"/messages/{conversation.pk}/").content.decode()
    assert "定型文を挿入" in page and "発送" in page

    other = make_seller("他店 Other Shop", "owner@other.example.jp")
    theirs = Template.objects.create(account=other, name="秘密", text="他店の定型文")
    for path, params in (
        ("/templates/insert/", {"template": theirs.pk, "conversation": conversation.pk}),
        (f"/templates/{theirs.pk}/", {}),
    ):
        assert client.get(path, params).status_code == 404
    assert client.post(f"/templates/{theirs.pk}/delete/").status_code == 404
    assert Template.objects.filter(pk=theirs.pk).exists()


@pytest.mark.db
@pytest.mark.django_db
def test_placeholders_are_filled_at_send_and_unknown_ones_are_never_sent(client: Client):
    pair = make_pair()
    assert client.login(username=OWNER, password=PASSWORD)
    url = f"/orders/{pair.order.order_id}/contact/"
    refused = client.post(url, {"subject": "発送", "text": "{buyer_name} 様、{tracking_number} です"})
    assert "不明な差し込み項目 {tracking_number}" in refused.content.decode()
    assert not Message.objects.exists()
    client.post(url, {"subject": "発送", "text": "{buyer_name} 様、注文 {order_id} を発送しました。"})
    sent = Message.objects.get()
    assert sent.text == f"山田 太郎 様、注文 {pair.order.order_id} を発送しました。"
