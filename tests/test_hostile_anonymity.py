"""Anonymity under attack (SPEC §4, F1): a sender tries to pass their real address to the other
party through every channel: a calendar invite, a vCard, a delivery report and a forwarded
message by mail, and the text and a PDF by the web form and by the API. What the other party
receives is read with the tests' own decoder (headers, parts, entities, percent-encoding,
UTF-16), and no real address of the sending side is in it."""

from __future__ import annotations

from email import message_from_string
from email.message import EmailMessage
from email.mime.base import MIMEBase

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from marketmsg.accounts.models import ApiToken, SellerUser, User
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from tests.support import files
from tests.support.delivery import deliver_all
from tests.support.mail import compose, everything_readable
from tests.support.personas import PASSWORD, make_pair

pytestmark = [pytest.mark.db]
OWNER = "owner@sakura-books.example.jp"
CLERK = "clerk.private@sakura-books.example.jp"
CALENDAR = f"""BEGIN:VCALENDAR
VERSION:2.0
METHOD:REQUEST
BEGIN:VEVENT
UID:1@sakura
ORGANIZER;CN=Sakura:mailto:{CLERK}
ATTENDEE;CN=Owner;ROLE=REQ-PARTICIPANT:MAILTO:{OWNER.upper()}
SUMMARY:受け取り日時の相談 ({CLERK})
DTSTART:20261201T010000Z
END:VEVENT
END:VCALENDAR
"""
VCARD = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:桜井\r\nEMAIL;TYPE=INTERNET:{CLERK}\r\nEND:VCARD\r\n"


def hostile_mail(to: str, invite: bool = False) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Sakura <{CLERK}>"
    mail["To"] = to
    mail["Subject"] = "ご案内"
    mail.set_content(f"ご連絡は {CLERK} か mailto:{OWNER.replace('@', '%40')} までどうぞ。")
    mail.add_alternative(
        f'<p title="{CLERK}">ご案内<!-- {OWNER} --></p><a href="mailto:{CLERK}">&#x6d;ail</a>', subtype="html"
    )
    if invite:  # calendar invites and vCards are not among the allowed files (SPEC F7)
        mail.add_attachment(CALENDAR.encode(), maintype="text", subtype="calendar", filename="invite.ics")
        mail.add_attachment(VCARD.encode(), maintype="text", subtype="vcard", filename=f"{CLERK}.vcf")
    else:  # the same data, inline in the text part instead of as files
        mail.add_attachment(f"{CALENDAR}\n{VCARD}", subtype="plain", disposition="inline")
    report = MIMEBase("message", "delivery-status")
    report.attach(message_from_string("Reporting-MTA: dns; mx.sakura\n"))
    report.attach(message_from_string(f"Final-Recipient: rfc822; {CLERK}\nAction: failed\n"))
    mail.attach(report)
    forwarded = EmailMessage()
    forwarded["From"] = OWNER
    forwarded["Return-Path"] = f"<{CLERK}>"
    forwarded["Subject"] = f"Fwd: {OWNER}"
    forwarded.set_content(f"-- \n{OWNER}\n")
    mail.add_attachment(forwarded)
    return mail.as_bytes()


def shop_with_a_clerk():  # type: ignore[no-untyped-def]
    pair = make_pair()
    clerk = User.objects.create_user(CLERK, PASSWORD, name="店員", role=User.Role.SELLER)
    SellerUser.objects.create(account=pair.seller, user=clerk, is_owner=False)
    addresses.set_sender_state(pair.seller, CLERK, SenderAddress.State.APPROVED)
    question = pair.buyer.email
    receipt_mail = compose(question, pair.seller_relay, f"注文 {pair.order.order_id}", "質問です")
    return pair, receipt_mail


def reaches_buyer(sink, pair) -> str:  # type: ignore[no-untyped-def]
    deliver_all()
    caught = [m for m in sink.messages if m.rcpt_tos == [pair.buyer.email]]
    assert caught, "nothing reached the buyer"
    return "\n".join(everything_readable(m.data) for m in caught)


def assert_anonymous(readable: str) -> None:
    for real in (CLERK, OWNER):
        assert real.lower() not in readable, real


def test_by_mail_an_invite_a_vcard_a_report_and_a_forward_carry_no_real_address(gateway, sink):
    pair, _ = shop_with_a_clerk()
    code, reply = gateway.send(CLERK, pair.buyer_relay, hostile_mail(pair.buyer_relay, invite=True))
    assert code == 550 and "invite.ics" in reply  # refused as a file type, named, nothing kept
    code, reply = gateway.send(CLERK, pair.buyer_relay, hostile_mail(pair.buyer_relay))
    assert code == 250, reply
    readable = reaches_buyer(sink, pair)
    assert "受け取り日時の相談" in readable and "begin:vcard" in readable  # the parts did arrive
    assert_anonymous(readable)


def test_by_the_web_form_an_address_in_the_text_is_refused_and_a_pdf_carries_none(gateway, sink):
    pair, question = shop_with_a_clerk()
    assert gateway.send(pair.buyer.email, pair.seller_relay, question)[0] == 250
    conversation = pair.seller.conversations.get()
    client = Client()
    assert client.login(username=CLERK, password=PASSWORD)
    url = f"/messages/{conversation.pk}/"
    # An address in the text breaks the communication guidelines: the form says so, nothing is sent.
    refused = client.post(url, {"text": f"担当の {CLERK} です。{OWNER.upper()} でも結構です。"})
    assert refused.status_code == 200 and "メールアドレス" in refused.content.decode()
    deliver_all()
    assert not [m for m in sink.messages if m.rcpt_tos == [pair.buyer.email]]
    # Hidden in a file instead: in its name and inside it.
    pdf = files.pdf().replace(b"%%EOF", f"% contact {CLERK}\n%%EOF".encode())
    upload = SimpleUploadedFile(f"{CLERK}.pdf", pdf, "application/pdf")
    sent = client.post(url, {"text": "見積書を添付します。", "files": [upload]})
    assert sent.status_code == 302, sent.content[:500]
    assert_anonymous(reaches_buyer(sink, pair))


def test_by_the_api_an_address_in_the_text_is_refused_and_a_pdf_carries_none(gateway, sink):
    pair, question = shop_with_a_clerk()
    assert gateway.send(pair.buyer.email, pair.seller_relay, question)[0] == 250
    conversation = pair.seller.conversations.get()
    _token, secret = ApiToken.issue(User.objects.get(email=CLERK), "tests", ["read", "write"])
    url = f"/api/v1/conversations/{conversation.pk}/replies"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    refused = Client().post(url, {"text": f"<{CLERK}> &lt;{OWNER}&gt;"}, **auth)
    assert refused.status_code == 422 and "guidelines" in refused.json()["type"]
    # A PDF with the owner's address in UTF-16 inside, under a Chinese file name.
    pdf = files.pdf().replace(b"%%EOF", f"% {OWNER}\n".encode("utf-16-le") + b"%%EOF")
    upload = SimpleUploadedFile("见积.pdf", pdf, "application/pdf")
    answer = Client().post(url, {"text": "見積書です。", "files": [upload]}, **auth)
    assert answer.status_code == 201, answer.content
    assert_anonymous(reaches_buyer(sink, pair))


def test_a_buyers_own_address_typed_on_the_web_reaches_the_seller_as_the_relay_address(gateway, sink):
    # Mail and web are scrubbed by one step (conversations.drafts.prepare): before it, a buyer who
    # typed their address into the web form had it relayed to the seller as typed.
    pair, question = shop_with_a_clerk()
    assert gateway.send(pair.buyer.email, pair.seller_relay, question)[0] == 250
    conversation = pair.seller.conversations.get()
    client = Client()
    assert client.login(username=pair.buyer.email, password=PASSWORD)
    typed = f"連絡先は {pair.buyer.email.upper()} です。"
    assert client.post(f"/my/messages/{conversation.pk}/", {"text": typed}).status_code == 302
    stored = conversation.messages.filter(author="buyer").latest("created_at", "id")
    assert pair.buyer_relay in stored.text and pair.buyer.email not in stored.text.lower()
    deliver_all()
    relayed = "\n".join(
        everything_readable(m.data) for m in sink.messages if m.rcpt_tos != [pair.buyer.email]
    )
    assert pair.buyer_relay in relayed and pair.buyer.email not in relayed.lower()
