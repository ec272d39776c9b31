"""Alternate addresses (代替アドレスの管理, SPEC F8) over a real SMTP conversation and the web page:
held mail is released in order on approval, withheld with one notice on blocking; the lists are
the owner's alone and nothing on them is ever deleted."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.sites import site as admin_site
from django.test import Client

from marketmsg.accounts.models import SellerUser, User
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress, SenderAddressChange
from marketmsg.conversations import senders
from marketmsg.conversations.models import Message
from marketmsg.delivery.models import Delivery
from tests.support.delivery import deliver_all
from tests.support.mail import compose, everything_readable, parse
from tests.support.personas import PASSWORD, make_pair

pytestmark = pytest.mark.db
OWNER = "owner@sakura-books.example.jp"
HELPER = "helper@sakura-books.example.jp"
ALIAS = "cs-team@sakura-books.example.jp"


def held_mail(gateway, pair, sender: str, n: int) -> list[Message]:
    """``n`` mails from ``sender`` to the buyer, threaded one under the other; all held."""
    parent = None
    for k in range(n):
        raw = compose(
            sender,
            pair.buyer_relay,
            subject=f"ご注文 {pair.order.order_id} について ({k + 1})",
            body=f"{k + 1} 通目です。",
            message_id=f"<alias-{k}@sakura-books.example.jp>",
            **({"In-Reply-To": parent} if parent else {}),
        )
        code, reply = gateway.send(sender, pair.buyer_relay, raw)
        assert code == 250 and "held" in reply, reply
        parent = f"<alias-{k}@sakura-books.example.jp>"
    held = list(Message.objects.filter(sender_email=sender).order_by("id"))
    assert [m.state for m in held] == [Message.State.HELD] * n
    return held


def shown(answer) -> str:  # type: ignore[no-untyped-def]
    """A page's HTML with its icons unwrapped (web/icons.py hides them from screen readers)."""
    return re.sub(r'<span aria-hidden="true">([^<]*)</span>', r"\1", answer.content.decode())


def owner_client(email: str = OWNER) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def test_approving_releases_held_mail_in_order_and_threaded(gateway, sink):
    pair = make_pair()
    held_mail(gateway, pair, ALIAS, 3)
    assert deliver_all() == 0 and sink.messages == []
    client = owner_client()
    page = client.get("/messages/").content.decode()
    assert "/settings/senders/" in page and "保留" in page  # the banner on the message center
    # Before deciding, the owner reads what the unknown address wrote (the newest three).
    lists = client.get("/settings/senders/").content.decode()
    assert "判断する前に、このアドレスが書いた内容を読む" in lists
    assert "3 通目です。" in lists and "2 通目です。" in lists and pair.order.order_id in lists
    alias = SenderAddress.objects.get(email=ALIAS)
    done = client.post("/settings/senders/", {"action": "approve", "sender": [alias.pk]}, follow=True)
    assert "3" in done.content.decode() and alias.email in done.content.decode()
    assert deliver_all() == 3
    relayed = [parse(m.data) for m in sink.messages]
    assert [m.get_body(("plain",)).get_content().strip() for m in relayed] == [
        "1 通目です。",
        "2 通目です。",
        "3 通目です。",
    ]
    assert relayed[1]["In-Reply-To"] == relayed[0]["Message-ID"]  # threading intact
    assert all(ALIAS not in everything_readable(m.data) for m in sink.messages)
    assert '/settings/senders/"' not in client.get("/messages/").content.decode()  # banner gone
    assert [c.to_state for c in SenderAddressChange.objects.filter(sender=alias).order_by("pk")] == [
        "unknown",
        "approved",
    ]


def test_blocking_withholds_held_mail_tells_the_sender_once_and_refuses_later_mail(gateway, sink):
    pair = make_pair()
    held = held_mail(gateway, pair, "stranger@elsewhere.example", 2)
    stranger = SenderAddress.objects.get(email="stranger@elsewhere.example")
    client = owner_client()
    client.post("/settings/senders/", {"action": "block", "sender": [stranger.pk]})
    assert {m.state for m in Message.objects.filter(pk__in=[h.pk for h in held])} == {Message.State.WITHHELD}
    assert not Delivery.objects.filter(message__in=held).exclude(state=Delivery.State.CANCELLED).exists()
    deliver_all()
    [notice] = sink.messages  # one notice, to the blocked address only
    assert notice.rcpt_tos == ["stranger@elsewhere.example"]
    text = everything_readable(notice.data)
    assert "2" in text and "blocked" in text and "taro.yamada@example.jp" not in text
    code, reply = gateway.send(
        "stranger@elsewhere.example",
        pair.buyer_relay,
        compose("stranger@elsewhere.example", pair.buyer_relay),
    )
    assert code == 550 and "blocked" in reply


def test_withheld_mail_shows_to_the_seller_as_not_delivered_and_to_the_buyer_not_at_all(gateway, sink):
    """A stranger's held mail that the owner then blocked never reached the buyer: the seller's
    Sent list and conversation say so (as staff see it), and the buyer has no thread for it."""
    pair = make_pair()
    held = held_mail(gateway, pair, "stranger@elsewhere.example", 1)
    buyer = Client()
    assert buyer.login(username=pair.buyer.email, password=PASSWORD)
    assert pair.order.order_id not in buyer.get("/my/messages/").content.decode()  # held: nothing yet
    stranger = SenderAddress.objects.get(email="stranger@elsewhere.example")
    client = owner_client()
    client.post("/settings/senders/", {"action": "block", "sender": [stranger.pk]})
    sent = shown(client.get("/messages/?box=sent"))
    for page in (sent, shown(client.get(f"/messages/{held[0].conversation_id}/"))):
        assert "⛔ 未配信（送信者をブロック）" in page
        assert "✔ 送信済み" not in page and "✔ 配信済み" not in page
    conversation_page = client.get(f"/messages/{held[0].conversation_id}/").content.decode()
    assert "(stranger@elsewhere.example)" in conversation_page  # who wrote it, as staff see it
    listing = buyer.get("/my/messages/").content.decode()
    assert pair.order.order_id not in listing and "まだメッセージはありません" in listing
    orders = buyer.get("/my/orders/").content.decode()
    assert f"/my/messages/{held[0].conversation_id}/" not in orders


@pytest.mark.django_db
def test_the_owner_adds_and_moves_addresses_and_duplicates_are_refused():
    pair = make_pair()
    client = owner_client()
    client.post(
        "/settings/senders/", {"action": "add-approved", "new_email": f" {ALIAS.upper()} ", "shared": "1"}
    )
    alias = SenderAddress.objects.get(account=pair.seller, email=ALIAS)
    assert alias.state == SenderAddress.State.APPROVED and alias.is_shared
    again = client.post(
        "/settings/senders/", {"action": "add-blocked", "new_email": ALIAS}, follow=True
    ).content.decode()
    assert "すでに" in again and ALIAS in again
    wrong = client.post(
        "/settings/senders/", {"action": "add-blocked", "new_email": "not an address"}, follow=True
    )
    assert "メールアドレスの形ではありません" in wrong.content.decode()
    nothing = client.post("/settings/senders/", {"action": "block"}, follow=True).content.decode()
    assert "Tick at least one" in nothing or "チェック" in nothing
    client.post("/settings/senders/", {"action": "block", "sender": [alias.pk]})
    alias.refresh_from_db()
    assert alias.state == SenderAddress.State.BLOCKED
    page = client.get("/settings/senders/").content.decode()
    assert page.count(ALIAS) >= 2  # on the Blocked list and in the history
    assert addresses.sender_state(pair.seller, "nobody@elsewhere.example") is None  # a bad form added nothing


def test_a_seller_user_sees_the_lists_but_cannot_change_them(gateway):
    pair = make_pair()
    helper = User.objects.create_user(HELPER, PASSWORD, name="手伝い", role=User.Role.SELLER)
    SellerUser.objects.create(account=pair.seller, user=helper, is_owner=False)
    # Every sign-in address may write from the start.
    assert addresses.sender_state(pair.seller, HELPER) == SenderAddress.State.APPROVED
    held_mail(gateway, pair, ALIAS, 1)
    alias = SenderAddress.objects.get(email=ALIAS)
    client = owner_client(HELPER)
    page = client.get("/settings/senders/").content.decode()
    assert ALIAS in page and HELPER in page and "所有者だけ" in page
    refused = client.post("/settings/senders/", {"action": "approve", "sender": [alias.pk]})
    assert refused.status_code == 403
    refused = client.post("/settings/senders/", {"action": "add-approved", "new_email": "x@shop.example"})
    assert refused.status_code == 403
    alias.refresh_from_db()
    assert alias.state == SenderAddress.State.UNKNOWN
    with pytest.raises(senders.ListProblem):
        senders.move(pair.seller, [ALIAS], SenderAddress.State.APPROVED, helper)


@pytest.mark.django_db
def test_there_is_no_way_to_delete_an_address_or_its_history():
    pair = make_pair()
    owner = SenderAddress.objects.get(account=pair.seller)
    with pytest.raises(PermissionError):
        owner.delete()
    with pytest.raises(PermissionError):
        SenderAddress.objects.filter(account=pair.seller).delete()
    with pytest.raises(PermissionError):
        SenderAddressChange.objects.all().delete()
    assert SenderAddress not in admin_site._registry and SenderAddressChange not in admin_site._registry
    assert SenderAddress.objects.filter(account=pair.seller).count() == 1


@pytest.mark.django_db
def test_the_owner_is_asked_before_blocking_the_shops_own_address():
    pair = make_pair()
    client = owner_client()
    own = SenderAddress.objects.get(account=pair.seller, email=OWNER)
    asked = client.post("/settings/senders/", {"action": "block", "sender": [own.pk]})
    page = asked.content.decode()
    assert (
        asked.status_code == 200
        and "ショップのメンバーのアドレスです" in page
        and "それでもブロックする" in page
    )
    assert SenderAddress.objects.get(pk=own.pk).state == SenderAddress.State.APPROVED  # nothing yet
    # The question carries the choice: confirming blocks exactly that address.
    fields = dict(re.findall(r'<input type="hidden" name="(action|confirmed)" value="([^"]+)"', page))
    assert fields == {"action": "block", "confirmed": "1"}
    client.post("/settings/senders/", {"action": "block", "sender": [own.pk], "confirmed": "1"})
    assert SenderAddress.objects.get(pk=own.pk).state == SenderAddress.State.BLOCKED
    # Adding a member's address to Blocked by typing it asks too.
    SenderAddress.objects.filter(pk=own.pk).update(state=SenderAddress.State.APPROVED)
    typed = client.post("/settings/senders/", {"action": "add-blocked", "new_email": OWNER})
    assert "それでもブロックする" in typed.content.decode()
