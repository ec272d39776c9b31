"""The communication guidelines on every channel (SPEC F10): blocked messages are kept for staff and
never delivered; the sender learns why by SMTP or in the form; contact details may be removed
instead; a buyer may decline messages a seller starts unprompted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marketmsg.conversations import screening
from marketmsg.conversations.models import Message
from marketmsg.conversations.services import conversation_for
from marketmsg.delivery.models import Delivery
from marketmsg.policy import evaluation, guidelines
from marketmsg.relay import inbound
from tests.support.delivery import deliver_all
from tests.support.mail import compose, everything_readable
from tests.support.personas import PASSWORD, make_buyer, make_pair, make_seller

OWNER = "owner@sakura-books.example.jp"
BUYER = "taro.yamada@example.jp"
EVALUATION_SET = Path(__file__).with_name("data") / "guidelines_eval.tsv"


def seller_messages() -> list[Message]:
    return list(Message.objects.filter(author=Message.Author.SELLER).order_by("pk"))


@pytest.mark.db
def test_a_seller_mail_with_a_link_is_refused_kept_as_blocked_and_never_delivered(gateway, sink):
    pair = make_pair()
    mail = compose(OWNER, pair.buyer_relay, body="説明書はこちら https://manuals.example.com/x です。")
    code, reply = gateway.send(OWNER, pair.buyer_relay, mail)
    assert code == 550 and reply.startswith("5.7.1") and "external_link" in reply, reply
    [message] = seller_messages()
    assert message.state == Message.State.BLOCKED
    assert message.guideline_rules == "external_link"
    assert message.guideline_findings[0]["text"] == "https://manuals.example.com/x"
    assert not Delivery.objects.exists()
    assert deliver_all() == 0 and not sink.messages


@pytest.mark.db
def test_a_reply_quoting_the_buyers_own_phone_and_link_is_relayed(gateway, sink):
    pair = make_pair()
    asked = "写真は https://photos.example.net/abc に置きました。電話は 090-1234-5678 です。"
    assert gateway.send(BUYER, pair.seller_relay, compose(BUYER, pair.seller_relay, body=asked))[0] == 250
    reply = "ご連絡ありがとうございます。交換品を発送します。\n\n> " + asked.replace("\n", "\n> ")
    code, answer = gateway.send(OWNER, pair.buyer_relay, compose(OWNER, pair.buyer_relay, body=reply))
    assert code == 250, answer
    assert [m.state for m in seller_messages()] == [Message.State.RELAYED]
    # Only what the buyer wrote is excused: a new link in the same reply is not.
    again = reply + "\n当店サイト https://shop.example.org もどうぞ"
    code, answer = gateway.send(OWNER, pair.buyer_relay, compose(OWNER, pair.buyer_relay, body=again))
    assert code == 550 and "external_link" in answer


@pytest.mark.db
def test_one_mail_to_two_buyers_is_delivered_to_both_or_to_neither(gateway, sink):
    first = make_pair()
    second = make_pair(seller=first.seller, buyer=make_buyer("hanako@example.jp", "佐藤 花子"))
    # The first buyer sent the link, so the copy to them alone would pass; the second never saw it.
    link = "https://photos.example.net/abc"
    assert gateway.send(BUYER, first.seller_relay, compose(BUYER, first.seller_relay, body=link))[0] == 250
    mail = compose(OWNER, first.buyer_relay, body=f"> {link}\n確認しました。")
    code, reply = gateway.send(OWNER, [first.buyer_relay, second.buyer_relay], mail)
    assert code == 550 and "external_link" in reply
    assert [m.state for m in seller_messages()] == [Message.State.BLOCKED] * 2
    assert not Delivery.objects.filter(message__author=Message.Author.SELLER).exists()


@pytest.mark.db
@pytest.mark.django_db
def test_a_blocked_web_reply_keeps_the_draft_highlights_the_words_and_can_be_fixed(client, sink):
    pair = make_pair()
    conversation = inbound.receive(
        compose(BUYER, pair.seller_relay, body="在庫はありますか？"), BUYER, [pair.seller_relay]
    )
    buyer_message = Message.objects.get(pk=conversation.message_ids[0])
    assert deliver_all() == 1  # the buyer's question, to the seller
    sink.messages.clear()
    assert client.login(username=OWNER, password=PASSWORD)
    url = f"/messages/{buyer_message.conversation_id}/"
    draft = "在庫ございます。他の色は www.example-shop.jp で、LINE ID: sakura_books へどうぞ。"
    page = client.post(url, {"text": draft})
    html = page.content.decode()
    assert page.status_code == 200
    assert "送信されていません" in html  # the form says nothing was sent
    assert "<mark>www.example-shop.jp</mark>" in html and "<mark>LINE ID: sakura_books</mark>" in html
    assert "sakura_books へどうぞ。</textarea>" in html  # the draft is kept
    [blocked] = seller_messages()
    assert blocked.state == Message.State.BLOCKED and blocked.channel == Message.Channel.WEB
    assert blocked.guideline_rules.split() == ["external_link", "contact_sns"]
    buyer_message.refresh_from_db()
    assert buyer_message.needs_reply  # a blocked message answers nothing
    # The seller's thread shows it was not delivered and why.
    thread = client.get(url).content.decode()
    assert "購入者には配信されていません" in thread and "外部サイトへのリンク" in thread
    page = client.post(url, {"text": "在庫ございます。本日発送いたします。"})
    assert page.status_code == 302
    assert deliver_all() == 1 and len(sink.messages) == 1
    assert b"www.example-shop.jp" not in sink.messages[0].data


@pytest.mark.db
@pytest.mark.django_db
def test_the_live_check_excuses_the_buyers_words_in_their_conversation(client):
    pair = make_pair()
    receipt = inbound.receive(
        compose(BUYER, pair.seller_relay, body="090-1234-5678 に電話ください"), BUYER, [pair.seller_relay]
    )
    conversation_id = Message.objects.get(pk=receipt.message_ids[0]).conversation_id
    assert client.login(username=OWNER, password=PASSWORD)
    text = "> 090-1234-5678 に電話ください\nお電話は致しかねます。こちらでご案内します。"
    alone = client.post("/messages/check/", {"text": text}).content.decode()
    assert "<mark>090-1234-5678</mark>" in alone
    here = client.post("/messages/check/", {"text": text, "conversation": conversation_id}).content.decode()
    assert "<mark>" not in here and "✔" in here
    # Another shop's conversation is not found (and not used).
    other = make_pair(
        make_seller("Other shop", "owner@other.example.jp"), make_buyer("jiro@example.jp", "次郎")
    )
    foreign = conversation_for(other.seller, other.buyer, other.order)
    assert client.post("/messages/check/", {"text": text, "conversation": foreign.pk}).status_code == 404


@pytest.mark.db
def test_staff_see_blocked_messages_by_rule_with_the_words_marked(client, gateway):
    from marketmsg.accounts.models import User

    pair = make_pair()
    gateway.send(OWNER, pair.buyer_relay, compose(OWNER, pair.buyer_relay, body="10%オフのクーポンです"))
    gateway.send(OWNER, pair.buyer_relay, compose(OWNER, pair.buyer_relay, body="info@shop.example.jp まで"))
    User.objects.create_user("staff@marketplace.example", PASSWORD, name="Staff", role=User.Role.STAFF)
    assert client.login(username="staff@marketplace.example", password=PASSWORD)
    page = client.get("/staff/blocked/").content.decode()
    assert "<mark>クーポン</mark>" in page and "<mark>info@shop.example.jp</mark>" in page
    only = client.get("/staff/blocked/?rule=promotion").content.decode()
    assert "<mark>クーポン</mark>" in only and "info@shop.example.jp" not in only
    # Sellers and buyers never reach it.
    client.logout()
    assert client.login(username=OWNER, password=PASSWORD)
    assert client.get("/staff/blocked/").status_code == 404


@pytest.fixture
def removing_contacts(settings, tmp_path):
    """The operator's rules file: contact details are removed instead of blocking the message."""
    data = json.loads(guidelines.RULES_FILE.read_text(encoding="utf-8"))
    for rule in ("contact_email", "contact_phone", "contact_sns"):
        data["severity"][rule] = "remove"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    settings.GUIDELINES_FILE = str(path)
    screening.site_rules.cache_clear()
    yield
    screening.site_rules.cache_clear()


@pytest.mark.db
def test_contact_details_can_be_removed_instead_of_blocking(gateway, sink, removing_contacts):
    pair = make_pair()
    body = "発送しました。何かあれば 03-1234-5678 か shop.desk@example.jp までどうぞ。"
    code, reply = gateway.send(OWNER, pair.buyer_relay, compose(OWNER, pair.buyer_relay, body=body))
    assert code == 250, reply
    [message] = seller_messages()
    assert message.state == Message.State.RELAYED
    assert message.guideline_rules == "contact_phone contact_email"
    assert "03-1234-5678" not in message.text and guidelines.REMOVED_MARK in message.text
    assert deliver_all() == 1
    delivered = everything_readable(sink.messages[0].data)
    assert "03-1234-5678" not in delivered and "shop.desk@example.jp" not in delivered
    assert "発送しました" in delivered and guidelines.REMOVED_MARK.lower() in delivered
    # A link still blocks: "remove" is only what the operator chose it for.
    link = compose(OWNER, pair.buyer_relay, body="www.example.com")
    assert gateway.send(OWNER, pair.buyer_relay, link)[0] == 550


@pytest.mark.db
def test_a_buyer_who_declined_gets_only_answers_and_order_problems(client, gateway, sink):
    pair = make_pair()
    assert client.login(username=BUYER, password=PASSWORD)
    client.post("/account/", {"form": "seller_messages"})  # the box unticked
    pair.buyer.refresh_from_db()
    assert pair.buyer.declines_unprompted
    client.logout()

    assert client.login(username=OWNER, password=PASSWORD)
    url = f"/orders/{pair.order.order_id}/contact/"
    assert "問題がある場合のメッセージだけ" in client.get(url).content.decode()  # told before writing
    page = client.post(
        url, {"subject": "ご案内", "text": "ご購入ありがとうございました。", "reason": "other"}
    )
    assert page.status_code == 200 and "送信されていません" in page.content.decode()
    assert [m.state for m in seller_messages()] == [Message.State.BLOCKED]
    assert seller_messages()[0].guideline_rules == screening.OPTED_OUT
    # By mail, unprompted: refused, naming the opt-out.
    code, reply = gateway.send(
        OWNER, pair.buyer_relay, compose(OWNER, pair.buyer_relay, body="新着のお知らせ")
    )
    assert code == 550 and "buyer_opted_out" in reply
    # A problem with the order goes through.
    page = client.post(
        url, {"subject": "配送について", "text": "配送が遅れております。", "reason": "delivery"}
    )
    assert page.status_code == 302
    assert seller_messages()[-1].state == Message.State.RELAYED and seller_messages()[-1].reason == "delivery"
    # Once the buyer writes, answers go through by either channel.
    answer = compose(BUYER, pair.seller_relay, subject=f"Re: 配送について (注文 {pair.order.order_id})")
    assert gateway.send(BUYER, pair.seller_relay, answer)[0] == 250
    code, reply = gateway.send(
        OWNER, pair.buyer_relay, compose(OWNER, pair.buyer_relay, subject=f"Re: {pair.order.order_id}")
    )
    assert code == 250, reply
    assert deliver_all() >= 2


def test_the_labelled_set_meets_the_precision_and_recall_targets():
    """The quality bar of the issue, on the 300+ labelled messages (bench/guidelines_eval.py prints
    the figures): a regression in any blocking rule fails here."""
    examples = evaluation.read(EVALUATION_SET)
    assert len(examples) >= 300
    rules = guidelines.load()
    report = evaluation.evaluate(examples, rules.severity, lambda t, h: guidelines.check(t, h))
    for rule, score in report.scores.items():
        assert score.precision >= 0.98 and score.recall >= 0.95, (rule, score, report.mistakes)
    languages = {e.language for e in examples}
    assert languages == {"ja", "en"}
    assert sum(not e.expected for e in examples) >= 100  # allowed messages, hard negatives among them


@pytest.mark.db
@pytest.mark.django_db
def test_a_finding_with_a_nul_character_is_stored_on_every_database():
    """Broken mail may carry NUL, which PostgreSQL's jsonb refuses: the decision is stored anyway."""
    pair = make_pair()
    mail = compose(OWNER, pair.buyer_relay, body="see http://go.example.com/fwlink/?id\x00x for it")
    receipt = inbound.receive(mail, OWNER, [pair.buyer_relay])
    assert receipt.blocked_rules == ["external_link"]
    [message] = seller_messages()
    assert "\x00" not in message.guideline_findings[0]["text"]


def mail_hiding(place: str, words: str, to: str) -> bytes:
    """A seller's mail whose body is harmless and whose ``place`` carries ``words``."""
    import base64
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"], mail["To"] = OWNER, to
    mail["Subject"] = words if place == "subject" else "ご注文ありがとうございます"
    mail.set_content("ご注文ありがとうございます。本日発送いたします。")
    if place == "second_text":
        mail.add_attachment(words, disposition="inline")
    elif place == "enriched":
        mail.add_attachment(words, subtype="enriched", disposition="inline")
    elif place == "txt_file":
        mail.add_attachment(words, filename="memo.txt")
    elif place in ("forwarded", "forwarded_base64"):
        inner = EmailMessage()
        inner["From"], inner["Subject"] = OWNER, "前回の案内"
        inner.set_content(words)
        if place == "forwarded":
            mail.add_attachment(inner)
        else:
            part = EmailMessage()
            part["Content-Type"] = "message/rfc822"
            part["Content-Transfer-Encoding"] = "base64"
            part.set_payload(base64.encodebytes(inner.as_bytes()).decode())
            mail.make_mixed()
            mail.attach(part)
    elif place == "html_logo":
        mail.add_alternative(words, subtype="html")
    return mail.as_bytes()


PLACES = ["subject", "second_text", "enriched", "txt_file", "forwarded", "forwarded_base64"]


@pytest.mark.db
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(
    ("words", "rule"),
    [
        ("次回使える10%オフクーポンを差し上げます", "promotion"),
        ("詳しくは https://shop.example.org をご覧ください", "external_link"),
        ("お電話は 03-1234-5678 まで", "contact_phone"),
        ("当店サイト http://203.0.113.5/shop へどうぞ", "external_link"),
    ],
)
def test_every_text_the_buyer_reads_is_checked(gateway, sink, place, words, rule):
    pair = make_pair()
    code, reply = gateway.send(OWNER, pair.buyer_relay, mail_hiding(place, words, pair.buyer_relay))
    assert code == 550 and rule in reply, (place, reply)
    [message] = seller_messages()
    assert message.state == Message.State.BLOCKED and rule in message.guideline_rules.split()
    assert deliver_all() == 0 and not sink.messages


@pytest.mark.db
@pytest.mark.parametrize(
    ("html", "rules"),
    [
        ('<p>ありがとうございます</p><a href="https://marketplace.example/"><img src="cid:logo"></a>',
         {"linked_image"}),
        ('<p>ありがとうございます</p><img src="https://pixel.example.com/t.gif" width="1" height="1">',
         {"remote_image"}),
    ],
)  # fmt: skip
def test_images_are_screened_as_received_before_they_are_stripped(gateway, sink, html, rules):
    """A logo linked to any site (the marketplace's own too) and a remote image are found in the
    HTML the seller sent; the stored copy no longer has them, which is why they never fired."""
    pair = make_pair()
    code, reply = gateway.send(OWNER, pair.buyer_relay, mail_hiding("html_logo", html, pair.buyer_relay))
    assert code == 550 and rules <= set(seller_messages()[0].guideline_rules.split()), reply


@pytest.mark.parametrize(
    "text", ["see http://203.0.113.5/shop", "visit 203.0.113.5 now", "http://[2001:db8::1]/x"]
)
def test_links_to_bare_ip_addresses_are_external_links(text):
    assert guidelines.check(text, rules=screening.site_rules()).rules() == ["external_link"]


@pytest.mark.parametrize(
    "text", ["注文番号 503-1234567-1234567", "バージョン 1.2.3 です", "2026.12.06 に発送"]
)
def test_dotted_numbers_that_are_not_addresses_are_not_links(text):
    assert guidelines.check(text, rules=screening.site_rules()).rules() == []
