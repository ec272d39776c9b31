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
from tests.support.files import image
from tests.support.mail import everything_readable
from tests.support.personas import make_buyer, make_pair, make_seller

pytestmark = pytest.mark.db
_counter = itertools.count()

local_parts = st.from_regex(r"[a-z][a-z0-9._+-]{1,15}[a-z0-9]", fullmatch=True).filter(
    lambda s: ".." not in s
)
domains = st.from_regex(r"[a-z][a-z0-9-]{1,10}\.(jp|com|co\.jp|net|example)", fullmatch=True)


def case_variant(address: str, style: int) -> str:
    return [address, address.upper(), address.title()][style % 3]


def full_width(text: str, whole: bool) -> str:
    """Zenkaku: every ASCII character, or only the "@" and the dots, in its full-width form."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and (whole or c in "@.") else c for c in text)


def is_jis(char: str) -> bool:
    try:
        char.encode("iso-2022-jp")
    except UnicodeEncodeError:
        return False
    return True


# Characters no reader sees, put between the letters of an address.
INVISIBLE = ["\u200b", "\u00ad", "\u2060", "\ufeff", "\u200d", "\u180e", "\u034f"]


def with_invisible(text: str, style: int) -> str:
    mark = INVISIBLE[style % len(INVISIBLE)]
    return "".join(c + mark if i % 3 == 1 else c for i, c in enumerate(text))


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
    "forwarded_base64",
    "text_fullwidth",
    "text_fullwidth_at",
    "subject_fullwidth",
    "iso2022_fullwidth",
    "text_invisible",
    "html_tag_split",
    "html_invisible",
    "text_quoted_local",
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
    if "subject_fullwidth" in places:
        subject = Header(f"連絡先 {full_width(hidden, style != 1)}", "utf-8").encode(maxlinelen=10000)
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
    if "text_fullwidth" in places:
        text += f"メール: {full_width(hidden, True)}\n"
    if "text_fullwidth_at" in places:
        text += f"メール: {full_width(hidden, False)}\n"
    if "text_invisible" in places:
        text += f"mail {with_invisible(hidden, style)} です\n"
    if "text_quoted_local" in places:
        local, _, domain = hidden.partition("@")
        text += f'Original recipient: "{local}"@{domain}\n'

    mail.set_content(
        text, cte="quoted-printable" if "text_qp" in places else "base64" if "text_base64" in places else None
    )
    if "text_iso2022" in places:
        mail.set_content(f"ご連絡は {hidden} まで", charset="iso-2022-jp", cte="7bit")
    if "iso2022_fullwidth" in places:
        jis = "".join(
            c if is_jis(c) else a for c, a in zip(full_width(hidden, style != 2), hidden, strict=True)
        )
        mail.set_content(f"ご連絡は {jis} まで", charset="iso-2022-jp", cte="7bit")
    html_parts = ["<p>こんにちは</p>"]
    if "html_text" in places:
        html_parts.append(f"<p>{hidden}</p>")
    if "html_entities" in places:
        html_parts.append(f"<p>{entity_encode(hidden)}</p>")
    if "html_mailto" in places:
        html_parts.append(f'<a href="mailto:{hidden}">mail</a>')
    if "html_percent" in places:
        html_parts.append(f'<a href="mailto:{hidden.replace("@", "%40")}">mail</a>')
    if "html_tag_split" in places:
        local, _, domain = hidden.partition("@")
        html_parts.append(f"<p><b>{local}</b>@<i>{domain}</i></p>")
    if "html_invisible" in places:
        html_parts.append(f"<p>{with_invisible(hidden, style + 1)} &shy;</p>")
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
    if "forwarded_base64" in places:  # message/rfc822 in base64, as some clients forward
        inner = EmailMessage()
        inner["From"] = Header(f"転送 <{hidden}>", "utf-8").encode(maxlinelen=10000)
        inner["Subject"] = "Fwd"
        inner.set_content(f"元のメッセージ {hidden}\n", cte="base64")
        forwarded = EmailMessage()
        forwarded["Content-Type"] = "message/rfc822"
        forwarded["Content-Transfer-Encoding"] = "base64"
        forwarded["Content-Disposition"] = "inline"
        forwarded.set_payload(base64.encodebytes(inner.as_bytes()).decode())
        if mail.get_content_type() != "multipart/mixed":
            mail.make_mixed()
        mail.attach(forwarded)
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
    if "forwarded_base64" in places:  # opened and scrubbed, not carried as an encoded blob
        assert "元のメッセージ" in readable, places
    assert delivery.recipient.lower() != secret.lower()
