"""Sign-in, the first page per role, and the demo's mail catcher (real SMTP into it, then the pages)."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from marketmsg.ops.mailcatcher import CatcherHandler
from tests.conftest import free_port
from tests.support.mail import compose
from tests.support.personas import PASSWORD, make_pair

pytestmark = pytest.mark.db


@pytest.mark.django_db
def test_sign_in_page_is_japanese_first_and_explains_a_wrong_password(client: Client):
    page = client.get("/login/").content.decode()
    assert "ログイン" in page and "Sign in" not in page and 'lang="ja"' in page
    english = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "Sign in" in english and 'lang="en"' in english
    make_pair()
    wrong = client.post("/login/", {"username": "owner@sakura-books.example.jp", "password": "nope"})
    assert "パスワードが正しくありません" in wrong.content.decode()
    wrong = client.post(
        "/login/",
        {"username": "owner@sakura-books.example.jp", "password": "nope"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "password is not correct" in wrong.content.decode()


@pytest.mark.django_db
def test_each_role_starts_on_its_own_page(client: Client):
    make_pair()
    assert client.get("/").url.startswith("/login/")  # signed out: to the sign-in page
    assert client.login(username="owner@sakura-books.example.jp", password=PASSWORD)
    assert client.get("/").url == "/messages/"
    client.logout()
    assert client.login(username="taro.yamada@example.jp", password=PASSWORD)
    assert client.get("/").url == "/my/orders/"


@pytest.mark.django_db
def test_mail_catcher_lists_and_shows_caught_mail(client: Client, settings, tmp_path: Path):
    settings.MAILCATCHER_DIR = str(tmp_path)
    port = free_port()
    controller = Controller(CatcherHandler(tmp_path), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.sendmail(
                "a@marketplace.example",
                ["taro@example.jp"],
                compose(
                    "a@marketplace.example",
                    "taro@example.jp",
                    subject="発送のお知らせ",
                    body="明日お届けします",
                ),
            )
    finally:
        controller.stop()
    listing = client.get("/mailcatcher/").content.decode()
    assert "発送のお知らせ" in listing and "taro@example.jp" in listing
    # Mail headers, not the date-range "from"/"to" of the search forms.
    assert "<th>宛先</th><th>送信者</th>" in listing and "開始日" not in listing
    key = next(tmp_path.glob("*.eml")).stem
    detail = client.get(f"/mailcatcher/{key}/").content.decode()
    assert "明日お届けします" in detail
    raw = client.get(f"/mailcatcher/{key}/raw")
    assert raw.status_code == 200 and b"Subject:" in raw.content
    assert client.get("/mailcatcher/../../etc/passwd/").status_code == 404


@pytest.mark.django_db
def test_mail_catcher_is_off_unless_configured(client: Client, settings):
    settings.MAILCATCHER_DIR = ""
    assert client.get("/mailcatcher/").status_code == 404


@pytest.mark.django_db
def test_seller_message_center_lists_finds_by_order_id_and_keeps_the_view_in_the_url(client: Client):
    from marketmsg.conversations.models import Message
    from marketmsg.conversations.services import conversation_for

    pair = make_pair()
    conversation = conversation_for(pair.seller, pair.buyer, order=pair.order)
    Message.objects.create(
        conversation=conversation,
        seller=pair.seller,
        author=Message.Author.BUYER,
        channel=Message.Channel.WEB,
        subject="配送について",
        needs_reply=True,
        has_attachments=True,
        outbound_message_id="<1@x>",
    )
    assert client.get("/messages/").status_code == 302  # signed out: to the sign-in page
    assert client.login(username="owner@sakura-books.example.jp", password=PASSWORD)
    default = client.get("/messages/").content.decode()
    assert "配送について" in default and "📎" in default and "返信が必要" in default
    found = client.get("/messages/", {"box": "received", "q": pair.order.order_id}).content.decode()
    assert "配送について" in found
    missing = client.get("/messages/", {"box": "received", "q": "503-0000000-0000000"}).content.decode()
    assert "配送について" not in missing and "該当するメッセージはありません" in missing
    odd = client.get("/messages/", {"per_page": "1000", "period": "always"}).content.decode()
    assert "期間の指定が正しくないため無視しました" in odd
    odd = client.get("/messages/", {"period": "always"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The period was not understood" in odd
    client.logout()
    client.login(username="taro.yamada@example.jp", password=PASSWORD)
    assert client.get("/messages/").status_code == 404  # buyers have no seller message center


def test_icons_beside_words_are_hidden_from_screen_readers_but_never_inside_a_draft():
    from marketmsg.web.icons import hide_icons

    page = '<a href="/x">📥 メッセージ</a><span title="添付">📎</span><textarea name="t">⚠ 注意</textarea>'
    assert hide_icons(page) == (
        '<a href="/x"><span aria-hidden="true">📥</span> メッセージ</a><span title="添付">📎</span>'
        '<textarea name="t">⚠ 注意</textarea>'
    )
