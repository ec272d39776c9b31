"""Both directions of the relay over real SMTP on loopback: gateway → database → worker → sink."""

from __future__ import annotations

import re

import pytest

from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from marketmsg.conversations.models import Conversation, Message
from marketmsg.delivery.models import Delivery
from tests.conftest import crlf
from tests.support.delivery import deliver_all
from tests.support.mail import compose, everything_readable, parse
from tests.support.personas import make_buyer, make_pair, make_seller

pytestmark = pytest.mark.db
TARO = "taro.yamada@example.jp"
OWNER = "owner@sakura-books.example.jp"


def test_buyer_mail_reaches_seller_from_buyer_relay_address_without_real_address(gateway, sink):
    pair = make_pair()
    body = "発送はいつですか？ 連絡先: taro.yamada@example.jp / TARO.YAMADA@EXAMPLE.JP"
    code, reply = gateway.send(
        "taro.yamada@example.jp",
        pair.seller_relay,
        compose("山田 太郎 <taro.yamada@example.jp>", pair.seller_relay, body=body),
    )
    assert code == 250, reply
    assert deliver_all() == 1
    [caught] = sink.messages
    assert caught.rcpt_tos == ["owner@sakura-books.example.jp"]
    assert caught.mail_from.startswith("bounce-") and caught.mail_from.endswith("@marketplace.example")
    relayed = parse(caught.data)
    assert relayed["From"].addresses[0].addr_spec == pair.buyer_relay
    assert relayed["From"].addresses[0].display_name == "山田 太郎"
    assert "taro.yamada@example.jp" not in everything_readable(caught.data)
    assert pair.buyer_relay in relayed.get_body(("plain",)).get_content()
    assert "発送はいつですか" in relayed.get_body(("plain",)).get_content()


def test_seller_reply_reaches_buyer_threaded_under_the_buyers_own_message(gateway, sink):
    pair = make_pair()
    question = compose("taro.yamada@example.jp", pair.seller_relay, message_id="<q1@example.jp>")
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, question)[0] == 250
    deliver_all()
    relayed_question = parse(sink.messages[0].data)
    seller_sees_id = relayed_question["Message-ID"]
    assert seller_sees_id != "<q1@example.jp>"

    answer = compose(
        "owner@sakura-books.example.jp",
        pair.buyer_relay,
        subject="Re: 注文について",
        body="明日発送します。\n> 発送はいつですか",
        message_id="<a1@sakura-books.example.jp>",
        In_Reply_To=seller_sees_id,
        References=seller_sees_id,
    )
    code, reply = gateway.send("owner@sakura-books.example.jp", pair.buyer_relay, answer)
    assert code == 250, reply
    deliver_all()
    to_buyer = parse(sink.messages[1].data)
    assert sink.messages[1].rcpt_tos == ["taro.yamada@example.jp"]
    assert to_buyer["From"].addresses[0].addr_spec == pair.seller_relay
    assert to_buyer["From"].addresses[0].display_name == "さくら書店 Sakura Books"
    # The buyer's client knows the question by the buyer's own Message-ID.
    assert to_buyer["In-Reply-To"] == "<q1@example.jp>"
    assert "sakura-books.example.jp" not in everything_readable(sink.messages[1].data)
    assert Conversation.objects.count() == 1
    reply_message = Message.objects.get(author=Message.Author.SELLER)
    assert reply_message.parent is not None and reply_message.parent.author == Message.Author.BUYER


def test_headers_are_allow_listed(gateway, sink):
    pair = make_pair()
    raw = compose(
        "taro.yamada@example.jp",
        pair.seller_relay,
        X_Mailer="Thunderbird 115",
        X_Originating_IP="[203.0.113.9]",
        Reply_To="taro.private@example.net",
        Disposition_Notification_To="taro.yamada@example.jp",
        User_Agent="Mutt/2.2",
        Received="from pc.taro.example ([203.0.113.9])",
    )
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, raw)[0] == 250
    deliver_all()
    relayed = parse(sink.messages[0].data)
    allowed = {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "in-reply-to",
        "references",
        "auto-submitted",
    }
    assert {k.lower() for k in relayed} <= allowed
    assert "203.0.113.9" not in sink.messages[0].data.decode()


def test_order_id_in_subject_threads_into_the_order_conversation(gateway, sink):
    pair = make_pair()
    raw = compose("taro.yamada@example.jp", pair.seller_relay, subject=f"注文番号 {pair.order.order_id} の件")
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, raw)[0] == 250
    message = Message.objects.get()
    assert message.conversation.order == pair.order
    raw = compose("taro.yamada@example.jp", pair.seller_relay, subject="別件です")
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, raw)[0] == 250
    assert Message.objects.latest("id").conversation.order is None


def test_unknown_relay_address_is_refused_at_rcpt(gateway):
    make_pair()
    code, reply = gateway.send("taro.yamada@example.jp", "0123456789abcdef@marketplace.example", "x")
    assert code == 550 and reply.startswith("5.1.1")


def test_a_client_that_speaks_utf8_reads_the_refusal_in_japanese_too(gateway):
    make_pair()
    with gateway.client() as smtp:
        smtp.ehlo("client.example")
        assert smtp.has_extn("smtputf8")
        smtp.mail("taro.yamada@example.jp", ["SMTPUTF8"])
        code, reply = smtp.rcpt("0123456789abcdef@marketplace.example")
    lines = reply.decode("utf-8").split("\n")
    assert code == 550 and lines[0].startswith("5.1.1 No such relay address here")
    assert lines[1].startswith("5.1.1 この宛先（リレーアドレス）は存在しません。")
    # Without SMTPUTF8 the reply stays ASCII, as RFC 5321 wants it.
    with gateway.client() as smtp:
        smtp.ehlo("client.example")
        smtp.mail("taro.yamada@example.jp")
        code, reply = smtp.rcpt("0123456789abcdef@marketplace.example")
    assert code == 550 and reply.isascii() and b"\n" not in reply


def test_every_refusal_has_its_japanese_line():
    from marketmsg.gateway import japanese, replies

    for name in dir(replies):
        reply = getattr(replies, name)
        if isinstance(reply, str) and reply[:1] in ("4", "5") and name.isupper():
            assert "\r\n" in japanese.with_japanese(reply), f"{name} has no Japanese line"


def test_other_domains_are_not_relayed(gateway):
    code, reply = gateway.send("taro.yamada@example.jp", "someone@elsewhere.example", "x")
    assert code == 550 and reply.startswith("5.7.1") and "Relaying denied" in reply


def test_unknown_sender_to_buyer_is_held_and_recorded(gateway, sink):
    pair = make_pair()
    raw = compose("stranger@elsewhere.example", pair.buyer_relay)
    code, reply = gateway.send("stranger@elsewhere.example", pair.buyer_relay, raw)
    assert code == 250 and "held" in reply
    message = Message.objects.get()
    assert message.state == Message.State.HELD
    assert list(message.deliveries.values_list("state", flat=True)) == [Delivery.State.HELD]
    assert addresses.sender_state(pair.seller, "stranger@elsewhere.example") == SenderAddress.State.UNKNOWN
    assert deliver_all() == 0
    assert sink.messages == []


def test_blocked_sender_is_refused_at_rcpt(gateway):
    pair = make_pair()
    addresses.set_sender_state(pair.seller, "spam@elsewhere.example", SenderAddress.State.BLOCKED)
    code, reply = gateway.send("spam@elsewhere.example", pair.buyer_relay, "x")
    assert code == 550 and reply.startswith("5.7.1") and "blocked" in reply
    assert Message.objects.count() == 0


def test_blocked_header_sender_is_refused_at_data(gateway):
    pair = make_pair()
    addresses.set_sender_state(pair.seller, "spam@elsewhere.example", SenderAddress.State.BLOCKED)
    raw = compose("spam@elsewhere.example", pair.buyer_relay)
    code, reply = gateway.send("bounces@elsewhere.example", pair.buyer_relay, raw)
    assert code == 550 and reply.startswith("5.7.1")
    assert Message.objects.count() == 0


def test_only_the_buyer_may_write_to_the_sellers_relay_address(gateway):
    pair = make_pair()
    raw = compose("impostor@elsewhere.example", pair.seller_relay)
    code, reply = gateway.send("impostor@elsewhere.example", pair.seller_relay, raw)
    assert code == 550 and reply.startswith("5.7.1") and "Only the buyer" in reply
    assert Message.objects.count() == 0


def test_size_limit_is_announced_and_enforced(gateway, settings):
    pair = make_pair()
    with gateway.client() as smtp:
        smtp.ehlo("client.example")
        assert smtp.has_extn("size")
        limit = int(smtp.esmtp_features["size"])
        code, _ = smtp.mail("taro.yamada@example.jp", options=[f"SIZE={limit + 1}"])
        assert code == 552
        assert _.decode().startswith("5.3.4 Message too big")
    big = compose("taro.yamada@example.jp", pair.seller_relay, body=("y" * 76 + "\n") * (limit // 77 + 10))
    with gateway.client() as smtp:  # a client that does not announce the size is stopped at DATA
        smtp.ehlo("client.example")
        smtp.mail("taro.yamada@example.jp")
        smtp.rcpt(pair.seller_relay)
        code, reply = smtp.data(crlf(big))
    assert code == 552 and reply.decode().startswith("5.3.4"), reply
    assert Message.objects.count() == 0


def test_mobile_carrier_buyer_gets_mobile_relay_domain(gateway, sink):
    buyer = make_buyer("hanako-0123@docomo.ne.jp", "佐藤 花子")
    pair = make_pair(buyer=buyer)
    assert pair.seller_relay.endswith("@m.marketplace.example")
    assert pair.buyer_relay.endswith("@m.marketplace.example")
    code, _ = gateway.send(
        "owner@sakura-books.example.jp",
        pair.buyer_relay,
        compose("owner@sakura-books.example.jp", pair.buyer_relay),
    )
    assert code == 250
    deliver_all()
    assert parse(sink.messages[0].data)["From"].addresses[0].addr_spec == pair.seller_relay


@pytest.mark.django_db
def test_relay_pair_never_changes_and_differs_between_sellers():
    buyer = make_buyer()
    first = make_seller()
    second = make_seller("青空雑貨 Aozora Goods", "owner@aozora.example.com")
    a = addresses.relay_pair(buyer, first)
    again = addresses.relay_pair(buyer, first)
    b = addresses.relay_pair(buyer, second)
    assert (a.buyer_address.pk, a.seller_address.pk) == (again.buyer_address.pk, again.seller_address.pk)
    locals_ = {
        a.buyer_address.local_part,
        a.seller_address.local_part,
        b.buyer_address.local_part,
        b.seller_address.local_part,
    }
    assert len(locals_) == 4
    assert all(len(x) == 16 and int(x, 16) >= 0 for x in locals_)


def test_mail_from_a_relay_address_is_refused_as_a_loop(gateway):
    pair = make_pair()
    raw = compose(pair.seller_relay, pair.buyer_relay)
    code, reply = gateway.send("forwarder@sakura-books.example.jp", pair.buyer_relay, raw)
    assert code == 550 and reply.startswith("5.4.6")
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_relay_lookup_loads_the_right_side_buyer_seller_and_counterpart():
    pair = make_pair()
    for address, side, other in (
        (pair.buyer_relay, "buyer", pair.seller_relay),
        (pair.seller_relay, "seller", pair.buyer_relay),
    ):
        relay = addresses.find_relay_address(address.upper())
        assert relay is not None
        assert (relay.address, relay.side, relay.is_active) == (address, side, True)
        assert (
            relay.buyer.email == "taro.yamada@example.jp" and relay.seller.name == "さくら書店 Sakura Books"
        )
        both = addresses.relay_pair_of(relay)
        assert {both.buyer_address.address, both.seller_address.address} == {address, other}
    assert addresses.find_relay_address(pair.buyer_relay.replace("@", "@m.")) is None


def test_raw_utf8_and_shift_jis_headers_are_decoded_not_garbled(gateway, sink):
    pair = make_pair()
    for charset in ("utf-8", "cp932"):
        raw = (f"From: taro.yamada@example.jp\r\nTo: {pair.seller_relay}\r\n").encode() + (
            "Subject: 注文について 質問です\r\n\r\n本文\r\n".encode(charset)
        )
        assert gateway.send("taro.yamada@example.jp", pair.seller_relay, raw)[0] == 250
    deliver_all()
    subjects = [str(parse(m.data)["Subject"]) for m in sink.messages]
    assert subjects == ["注文について 質問です", "注文について 質問です"]
    assert set(Message.objects.values_list("subject", flat=True)) == {"注文について 質問です"}


def test_inactive_relay_address_is_refused_at_rcpt(gateway):
    from marketmsg.addresses.models import RelayAddress

    pair = make_pair()
    RelayAddress.objects.filter(local_part=pair.seller_relay.split("@")[0]).update(is_active=False)
    code, reply = gateway.send("taro.yamada@example.jp", pair.seller_relay, "x")
    assert code == 550 and reply.startswith("5.1.1")


@pytest.mark.parametrize(
    "subject", ["不在票が入っていました", "休暇中の配達について", "Vacation rental question"]
)
def test_a_person_whose_subject_sounds_like_an_auto_reply_is_delivered_every_time(gateway, sink, subject):
    """Auto-replies are told by their headers (RFC 3834), never by the subject's words alone: a buyer
    writing 「不在票が入っていました」 twice had the second mail taken for a loop and never delivered."""
    pair = make_pair()
    for n in range(2):
        mail = compose("taro.yamada@example.jp", pair.seller_relay, subject=f"{subject} {n}")
        assert gateway.send("taro.yamada@example.jp", pair.seller_relay, mail)[0] == 250
    deliver_all()
    assert list(Message.objects.values_list("is_auto", "state")) == [(False, "relayed")] * 2
    assert [parse(m.data)["Subject"] for m in sink.messages] == [f"{subject} 0", f"{subject} 1"]


@pytest.mark.parametrize("spellings", [lambda a: [a] * 25, lambda a: [a, a.upper(), a.title()]])
def test_one_message_per_distinct_recipient_however_often_it_is_named(gateway, sink, spellings):
    pair = make_pair()
    other = make_pair(seller=make_seller("もみじ商店", "owner@momiji.example.jp"), buyer=pair.buyer)
    named = [*spellings(pair.seller_relay), other.seller_relay, pair.seller_relay]
    mail = compose("taro.yamada@example.jp", pair.seller_relay)
    assert gateway.send("taro.yamada@example.jp", named, mail)[0] == 250
    deliver_all()
    assert Message.objects.count() == 2 and len(sink.messages) == 2
    assert sorted(r for m in sink.messages for r in m.rcpt_tos) == [
        "owner@momiji.example.jp",
        "owner@sakura-books.example.jp",
    ]


def test_the_core_also_makes_one_message_per_distinct_recipient(db, sink):
    """Whatever the edge (the gateway, Postfix's pipe, a test), the pipeline itself de-duplicates."""
    from marketmsg.relay import inbound

    pair = make_pair()
    mail = compose("taro.yamada@example.jp", pair.seller_relay)
    receipt = inbound.receive(mail, "taro.yamada@example.jp", [pair.seller_relay] * 25)
    assert len(receipt.message_ids) == 1 and Message.objects.count() == 1


@pytest.mark.parametrize("encoding", ["8bit", "quoted-printable", "base64"])
def test_a_seller_reply_quoting_the_buyer_never_passes_on_our_no_reply_link(gateway, sink, encoding):
    """The relayed buyer mail carries the seller's signed "no reply needed" link (SPEC F4); a reply
    that quotes it, in text and in HTML, reaches the buyer (mail and web) without it."""
    from email.message import EmailMessage

    pair = make_pair()
    question = compose("taro.yamada@example.jp", pair.seller_relay, body="在庫はありますか？")
    assert gateway.send("taro.yamada@example.jp", pair.seller_relay, question)[0] == 250
    deliver_all()
    relayed = parse(sink.messages[0].data)
    text = relayed.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/no-reply/\S+/", text)
    assert link is not None
    token = link.group(0).rstrip("/").rpartition("/")[2]
    quoted = "\n".join("> " + line for line in text.splitlines())
    answer = EmailMessage()
    answer["From"] = "owner@sakura-books.example.jp"
    answer["To"] = pair.buyer_relay
    answer["Subject"] = "Re: 注文について"
    answer["In-Reply-To"] = relayed["Message-ID"]
    answer.set_content(f"在庫がございます。\n\n{quoted}\n", cte=encoding)
    answer.add_alternative(
        f"<p>在庫がございます。</p><blockquote><p>在庫はありますか？</p><hr><p>"
        f'<a href="{link.group(0)}">このメッセージを返信不要としてマークするには、こちらをクリックします</a>'
        f"<br>{link.group(0)}</p></blockquote>",
        subtype="html",
        cte=encoding,
    )
    code, reply = gateway.send("owner@sakura-books.example.jp", pair.buyer_relay, answer.as_bytes())
    assert code == 250, reply
    deliver_all()
    to_buyer = sink.messages[1]
    readable = everything_readable(to_buyer.data)
    assert "在庫がございます" in readable and "在庫はありますか" in readable  # the quote itself stays
    assert token.lower() not in readable and "/no-reply/" not in readable
    stored = Message.objects.get(author=Message.Author.SELLER)
    assert "/no-reply/" not in stored.text + stored.html and "在庫はありますか" in stored.text


def test_own_links_are_removed_whole_lines_in_text_and_whole_anchors_in_html():
    from marketmsg.mail.ownlinks import without_own_links, without_own_links_html

    url = "https://mm.example/no-reply/MTIz:1vAbCd:Zx-9_q/"
    assert without_own_links(f"ok\n> click here: {url}\n> bye") == "ok\n> bye"
    assert without_own_links(f"{url}") == ""
    assert without_own_links("see /no-reply/ in the docs") == "see /no-reply/ in the docs"  # no token
    assert without_own_links_html(f'<p>a<a href="{url}">mark</a>b {url}</p>') == "<p>ab </p>"


def test_thread_headers_name_only_mail_the_reader_received(gateway, sink):
    """A stranger's held mail, a blocked reply and a notice to somebody else never reached the
    seller: a later buyer mail relayed to the seller names none of them in In-Reply-To/References."""
    pair = make_pair()
    first = compose(
        TARO, pair.seller_relay, subject=f"注文 {pair.order.order_id}", message_id="<t1@example.jp>"
    )
    assert gateway.send(TARO, pair.seller_relay, first)[0] == 250
    stranger = compose(
        "someone@elsewhere.example", pair.buyer_relay, subject=f"注文 {pair.order.order_id}",
        message_id="<held@elsewhere.example>", In_Reply_To="<t1@example.jp>",
    )  # fmt: skip
    code, reply = gateway.send("someone@elsewhere.example", pair.buyer_relay, stranger)
    assert code == 250 and "held" in reply
    blocked = compose(
        OWNER, pair.buyer_relay, subject=f"注文 {pair.order.order_id}",
        body="詳しくは https://shop.example.net へ", message_id="<blocked@sakura-books.example.jp>",
    )  # fmt: skip
    assert gateway.send(OWNER, pair.buyer_relay, blocked)[0] >= 500
    later = compose(
        TARO, pair.seller_relay, subject=f"注文 {pair.order.order_id}", message_id="<t2@example.jp>"
    )
    assert gateway.send(TARO, pair.seller_relay, later)[0] == 250
    deliver_all()
    to_seller = [parse(m.data) for m in sink.messages if m.rcpt_tos == [OWNER]]
    assert len(to_seller) == 2
    named = f"{to_seller[1]['In-Reply-To']} {to_seller[1]['References']}"
    assert "elsewhere.example" not in named and "sakura-books" not in named
    assert to_seller[0]["Message-ID"] in named  # the first buyer mail, as the seller knows it


def test_a_buyer_writing_to_their_own_relay_address_is_refused_and_never_named_to_the_seller(gateway):
    """The buyer's own relay address (how the seller sees them) is not the seller's: held as an
    unknown sender, the mail would have put the buyer's real address in the seller's sender list."""
    pair = make_pair()
    code, reply = gateway.send(TARO, pair.buyer_relay, compose(TARO, pair.buyer_relay))
    assert code == 550 and "your own relay address" in reply
    assert not SenderAddress.objects.filter(email=TARO).exists()
    assert not Message.objects.exists()
