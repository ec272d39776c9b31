"""Communication guidelines (SPEC F10), first rules: pure checks on real-looking messages."""

from __future__ import annotations

import pytest

from marketmsg.policy.guidelines import check


def rules_in(text: str, html: str = "") -> list[str]:
    return [f.rule for f in check(text, html).findings]


@pytest.mark.parametrize(
    "text",
    [
        "詳しくは https://example.com/item をご覧ください。",
        "当店サイト www.example.co.jp もどうぞ",
        "example.co.jp で検索してください",
        "ｅｘａｍｐｌｅ．ｃｏｍ にアクセス",  # full-width
        "see example[.]com for details",
        "visit example dot com today",
        "hxxp://evil.example.net/x",
        "short link: bit.ly/3abcd",
    ],
)
def test_external_links_in_every_disguise_are_found(text: str):
    assert "external_link" in rules_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "ご注文 503-1234567-1234567 について、明日発送いたします。",
        "https://marketplace.example/orders/503-1234567-1234567 から確認できます。",
        "お問い合わせ番号は 1234-5678-9012 です（ヤマト運輸）。",
        "Wholesale pricing is not available, sorry.",
        "商品名「サマーセール特集ムック本」の在庫はございます。".replace("セール", "SALE"),
        "配送は3〜5日です。ご不便をおかけして申し訳ございません。",
        "Version 1.2.3 of the manual is included.",
    ],
)
def test_ordinary_order_messages_pass(text: str):
    assert check(text).findings == (), rules_in(text)


def test_contact_details_promotions_and_their_positions():
    text = (
        "お電話は 090-1234-5678、メールは shop@example.jp、LINE ID: shop_abc へ。"
        "次回使えるクーポンをプレゼント！"
    )
    verdict = check(text)
    assert verdict.blocked
    by_rule = {f.rule: f for f in verdict.findings}
    assert set(by_rule) == {"contact_phone", "contact_email", "contact_sns", "promotion"}
    assert by_rule["contact_phone"].text == "090-1234-5678"
    assert text[by_rule["contact_email"].start : by_rule["contact_email"].end] == "shop@example.jp"
    assert by_rule["promotion"].text == "クーポン"
    assert "Phone numbers" in by_rule["contact_phone"].explanation_en
    assert "電話番号" in by_rule["contact_phone"].explanation_ja


def test_full_width_spellings_are_highlighted_where_they_were_typed():
    text = "こちら→ｅｘａｍｐｌｅ．ｃｏｍ"
    [finding] = check(text).findings
    assert finding.text == "ｅｘａｍｐｌｅ．ｃｏｍ" and text[finding.start : finding.end] == finding.text


@pytest.mark.parametrize(
    ("html", "rule"),
    [
        ('<p><a href="https://shop.example.com">our shop</a></p>', "external_link"),
        ('<a href="https://marketplace.example/x"><img src="cid:logo"></a>', "linked_image"),
        ('<img src="https://track.example.net/p.gif" width="1" height="1">', "remote_image"),
        ('<img srcset="//cdn.example.org/a.png 2x">', "remote_image"),
        ('<div style="background:url(https://cdn.example.org/bg.png)">x</div>', "remote_image"),
    ],
)
def test_links_and_remote_images_in_html(html: str, rule: str):
    assert rule in rules_in("", html)


def test_marketplace_links_in_html_pass():
    assert rules_in("", '<a href="https://marketplace.example/orders">注文</a><img src="cid:part1">') == []


@pytest.mark.db
@pytest.mark.django_db
def test_the_draft_is_checked_as_the_seller_types_with_the_problem_highlighted(client):
    from tests.support.personas import PASSWORD, make_pair

    make_pair()
    assert client.post("/messages/check/", {"text": "x"}).status_code == 302  # signed out
    assert client.login(username="owner@sakura-books.example.jp", password=PASSWORD)
    assert client.get("/messages/check/").status_code == 405
    page = client.post(
        "/messages/check/", {"text": "詳しくは <b>https://shop.example.com</b> へ"}
    ).content.decode()
    assert "<mark>https://shop.example.com</mark>" in page and "外部サイトへのリンク" in page
    assert "&lt;b&gt;" in page and "<b>" not in page  # the draft is escaped, never rendered
    clean = client.post("/messages/check/", {"text": "明日発送いたします。"}).content.decode()
    assert "問題はありません" in clean
    client.logout()
    client.login(username="taro.yamada@example.jp", password=PASSWORD)
    assert client.post("/messages/check/", {"text": "x"}).status_code == 404  # sellers only


def test_digits_inside_an_address_or_a_link_are_not_a_phone_number():
    # A relay address's 16 hex characters can hold ten digits in a row.
    assert check("ご連絡は a0312345678bcdef@marketplace.example まで").findings == ()
    assert rules_in("see https://example.com/item/09012345678") == ["external_link"]
    assert rules_in("電話 09012345678 まで") == ["contact_phone"]
