"""Property: wherever a sender hides their real address, the relayed mail does not contain it.

Hypothesis builds mail that puts the sender's address in headers, encoded words, bodies in
several charsets and transfer encodings, HTML (text, entities, links, percent-encoding),
attachment names and contents, and forwarded messages; the real pipeline stores it and the real
renderer builds what the other party would receive.
"""

from __future__ import annotations

import base64
import itertools
from email.header import Header
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from marketmsg.conversations.models import Message
from marketmsg.delivery.models import Delivery
from marketmsg.relay import inbound
from marketmsg.relay.outbound import render_delivery
from tests.files import image
from tests.mail import everything_readable
from tests.personas import make_buyer, make_pair, make_seller

pytestmark = pytest.mark.db
_counter = itertools.count()

local_parts = st.from_regex(r"[a-z][a-z0-9._+-]{1,15}[a-z0-9]", fullmatch=True).filter(
    lambda s: ".." not in s
)
domains = st.from_regex(r"[a-z][a-z0-9-]{1,10}\.(jp|com|co\.jp|net|example)", fullmatch=True)


def case_variant(address: str, style: int) -> str:
    return [address, address.upper(), address.title()][style % 3]


def entity_encode(text: str) -> str:
    return "".join(f"&#{ord(c)};" if i % 2 else f"&#x{ord(c):x};" for i, c in enumerate(text))


PLACES = [
    "reply_to",
    "cc",
    "sender",
    "custom_header",
    "subject_b",
    "subject_q",
    "display_name",
    "text",
    "text_quoted",
    "text_iso2022",
    "text_base64",
    "text_qp",
    "html_text",
    "html_entities",
    "html_mailto",
    "html_percent",
    "html_attr",
    "html_comment",
    "filename_2231",
    "filename_word",
    "attachment_text",
    "attachment_binary",
    "forwarded",
]


def build_mail(secret: str, to: str, places: list[str], style: int) -> bytes:
    hidden = case_variant(secret, style)
    mail = EmailMessage()
    mail["From"] = f"Sender <{secret}>"
    mail["To"] = to
    subject = "ご注文について"
    if "subject_b" in places:
        subject = Header(f"連絡先 {hidden}", "utf-8").encode(maxlinelen=10000)
    elif "subject_q" in places:
        subject = f"=?utf-8?q?{''.join(f'={b:02X}' for b in hidden.encode())}?="
    mail["Subject"] = subject
    for place, header in (
        ("reply_to", "Reply-To"),
        ("cc", "Cc"),
        ("sender", "Sender"),
        ("custom_header", "X-Contact"),
    ):
        if place in places:
            mail[header] = hidden
    if "display_name" in places:
        mail.replace_header("From", f'"{hidden}" <{secret}>')
    text = "こんにちは。\n"
    if "text" in places:
        text += f"連絡先: {hidden}\n"
    if "text_quoted" in places:
        text += f"\n> On Mon, {hidden} wrote:\n> 質問です\n"
    mail.set_content(
        text, cte="quoted-printable" if "text_qp" in places else "base64" if "text_base64" in places else None
    )
    if "text_iso2022" in places:
        mail.set_content(f"ご連絡は {hidden} まで", charset="iso-2022-jp", cte="7bit")
    html_parts = ["<p>こんにちは</p>"]
    if "html_text" in places:
        html_parts.append(f"<p>{hidden}</p>")
    if "html_entities" in places:
        html_parts.append(f"<p>{entity_encode(hidden)}</p>")
    if "html_mailto" in places:
        html_parts.append(f'<a href="mailto:{hidden}">mail</a>')
    if "html_percent" in places:
        html_parts.append(f'<a href="mailto:{hidden.replace("@", "%40")}">mail</a>')
    if "html_attr" in places:
        html_parts.append(f'<span title="{hidden}">x</span>')
    if "html_comment" in places:
        html_parts.append(f"<!-- {hidden} --><script>var a='{hidden}'</script>")
    if len(html_parts) > 1:
        mail.add_alternative("".join(html_parts), subtype="html")
    if "filename_2231" in places:
        mail.add_attachment(
            b"%PDF-1.4 test",
            maintype="application",
            subtype="pdf",
            filename=("utf-8", "", f"請求書 {hidden}.pdf"),
        )
    if "filename_word" in places:
        mail.add_attachment(
            GIF,
            maintype="image",
            subtype="gif",
            filename=Header(f"{hidden}.gif", "utf-8").encode(maxlinelen=10000),
        )
    if "attachment_text" in places:
        mail.add_attachment(f"メモ {hidden}\n", filename="memo.txt")
    if "attachment_binary" in places:  # binary inside a file type the attachment rules allow
        mail.add_attachment(
            b"%PDF-1.4\n\x00\x01BIN" + hidden.encode() + b"\x00" + hidden.encode("utf-16-le"),
            maintype="application",
            subtype="octet-stream",
            filename="data.pdf",
        )
    if "forwarded" in places:
        inner = EmailMessage()
        inner["From"] = hidden
        inner["Subject"] = Header(f"Fwd {hidden}", "utf-8").encode(maxlinelen=10000)
        inner.set_content(base64.b64encode(b"x").decode() + f"\nsigned {hidden}\n")
        mail.add_attachment(inner)
    return mail.as_bytes()


GIF = image("GIF")


@pytest.mark.django_db
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    local=local_parts,
    domain=domains,
    places=st.lists(st.sampled_from(PLACES), min_size=1, max_size=6, unique=True),
    style=st.integers(min_value=0, max_value=2),
    seller_writes=st.booleans(),
)
def test_hidden_sender_address_never_reaches_the_other_party(local, domain, places, style, seller_writes):
    n = next(_counter)
    secret = f"{local}{n}@{domain}"
    if seller_writes:
        seller = make_seller(f"Shop {n}", f"owner{n}@shop{n}.example.com")
        addresses.set_sender_state(seller, secret, SenderAddress.State.APPROVED)
        pair = make_pair(seller=seller, buyer=make_buyer(f"buyer{n}@buyers.example.jp", f"Buyer {n}"))
        to = pair.buyer_relay
    else:
        pair = make_pair(
            seller=make_seller(f"Shop {n}", f"owner{n}@shop{n}.example.com"),
            buyer=make_buyer(secret, f"Buyer {n}"),
        )
        to = pair.seller_relay
    raw = build_mail(secret, to, places, style)
    receipt = inbound.receive(raw, secret, [to])
    # Nothing in these mails breaks the guidelines: the relay addresses left in them are ours.
    assert not receipt.blocked_rules, Message.objects.get(pk=receipt.message_ids[0]).guideline_findings
    [delivery] = Delivery.objects.filter(message_id__in=receipt.message_ids)
    rendered = render_delivery(delivery).data
    readable = everything_readable(rendered)
    assert secret.lower() not in readable, places
    assert delivery.recipient.lower() != secret.lower()
