"""Mail out: gather what a delivery needs from the database and render it with mail.render."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.html import escape

from marketmsg import rows
from marketmsg.addresses import customer_service
from marketmsg.addresses import services as addresses
from marketmsg.conversations import noreply_link, stored
from marketmsg.conversations.models import Message
from marketmsg.delivery import verp
from marketmsg.delivery.models import Delivery
from marketmsg.mail import render
from marketmsg.mailauth import signing
from marketmsg.policy import guidelines

MARKETPLACE_NAME = "マーケットプレイス / Marketplace"
REFERENCES_KEPT = 20
SMTP_POLICY = render.SMTP_POLICY
# For a next hop without 8BITMIME (RFC 6152): every part that would be 8-bit is base64 instead.
SEVEN_BIT_POLICY = SMTP_POLICY.clone(cte_type="7bit")


@dataclass(frozen=True)
class Rendered:
    data: bytes
    envelope_from: str  # '' for the null sender of our own notices


def render_delivery(delivery: Delivery, eight_bit: bool = True) -> Rendered:
    """The mail for one delivery, signed; with ``eight_bit`` False, 7-bit clean (for a next hop
    that does not offer 8BITMIME: encoded before signing, so that the signature holds)."""
    message = delivery.message
    # Looked up by hand-written queries: the worker renders every delivery, and the ORM's query
    # building cost more than the database and the mail building together (ADR 4).
    pair = addresses.relay_pair_of_conversation(message.conversation_id)
    buyer, seller = pair.buyer_address.buyer, pair.buyer_address.seller
    extra = (
        {message.sender_email} if message.author == Message.Author.SELLER and message.sender_email else set()
    )
    replacements = addresses.replacement_map(pair, extra_seller=extra)
    if message.author == Message.Author.BUYER:
        from_name, from_address = buyer.name, pair.buyer_address.address
        reader = Message.Author.SELLER
    elif message.author == Message.Author.SELLER:
        from_name, from_address = seller.name, pair.seller_address.address
        reader = Message.Author.BUYER
    elif message.is_auto and not _about_customer_service(message):  # nobody reads answers to these
        from_name, from_address = MARKETPLACE_NAME, f"no-reply@{settings.RELAY_DOMAIN}"
        reader = Message.Author.MARKETPLACE
    else:  # customer service's answer or notice: the buyer's reply reaches the queue (SPEC F9)
        from_name = customer_service.NAME
        from_address = customer_service.address_for(message.conversation_id, pair.seller_address.domain)
        reader = Message.Author.BUYER
    in_reply_to, references = _thread_headers(message, reader)
    raw = None
    if _relays_raw(message):
        raw = stored.raw_bytes(stored.raw_row(message.pk))
    outbound = render.Outbound(
        from_name=from_name,
        from_address=from_address,
        to_address=delivery.recipient,
        subject=message.subject,
        date=message.created_at,
        message_id=message.outbound_message_id,
        in_reply_to=in_reply_to,
        references=references,
        text=message.text,
        html=message.html,
        raw=raw,
        replacements=replacements,
        auto_submitted="auto-replied" if message.is_auto else "",
        files=_files(message),
        **_no_reply_footer(message),
    )
    data = render.build(outbound).as_bytes(policy=SMTP_POLICY if eight_bit else SEVEN_BIT_POLICY)
    reals = [real for real in replacements if real != delivery.recipient.lower()]
    render.assert_no_leak(data, reals)
    is_notice = message.author == Message.Author.MARKETPLACE and message.is_auto
    data = signing.sign(data)  # after the leak check: the signature holds no address
    return Rendered(data=data, envelope_from="" if is_notice else verp.return_path(delivery.pk))


def _about_customer_service(message: Message) -> bool:
    """A notice about a buyer's message that customer service will answer ("customer service will
    answer you"): the buyer may well reply to it, and the reply belongs in the queue."""
    if message.parent_id is None:
        return False
    # SQL: asked per delivery; the worker through the ORM delivers at 0.69-0.76 × (ADR 24)
    found = rows.fetchall("SELECT state FROM conversations_message WHERE id = %s", [message.parent_id])
    return bool(found) and found[0][0] == Message.State.CUSTOMER_SERVICE.value


def _relays_raw(message: Message) -> bool:
    """A mail is rebuilt from its own MIME, unless the guidelines removed words from it: then what
    was stored (text, HTML and files) is sent, so the removed words cannot travel in the original."""
    removed = any(f.get("severity") == guidelines.REMOVE for f in message.guideline_findings)
    return message.channel == Message.Channel.MAIL and not removed


def _files(message: Message) -> tuple[tuple[str, str, bytes], ...]:
    """The stored files of a message whose raw MIME is not relayed (which carries its own)."""
    if _relays_raw(message) or not message.has_attachments:
        return ()
    found = []
    for attachment in message.attachments.filter(removed_at__isnull=True).order_by("pk"):
        with attachment.file.open("rb") as stored:
            found.append((attachment.filename, attachment.content_type, stored.read()))
    return tuple(found)


def _no_reply_footer(message: Message) -> dict[str, str]:
    """Every buyer message a seller receives offers the signed "no reply needed" link (SPEC F4)."""
    if message.author != Message.Author.BUYER or message.is_auto:
        return {}
    url = noreply_link.url_for(message.pk)
    text = (
        "\n\n-- \n"
        f"このメッセージを返信不要としてマークするには、こちらをクリックします: {url}\n"
        f"To mark this message as needing no response, click here: {url}\n"
    )
    link = f'<a href="{escape(url)}">'
    html = (
        '<hr><p style="font-size:small;color:#555">'
        f"{link}このメッセージを返信不要としてマークするには、こちらをクリックします</a><br>"
        f"{link}Mark this message as needing no response</a></p>"
    )
    return {"footer_text": text, "footer_html": html}


def _thread_headers(message: Message, reader: str) -> tuple[str, tuple[str, ...]]:
    """In-Reply-To and References as the reader's mail client knows the earlier messages.

    A message the reader wrote by mail is known by the reader's own Message-ID; any other by ours.
    """
    # Only messages the reader's mail client can know: what was relayed between the two parties,
    # and for the buyer also what they sent to customer service and its answers. Never a held,
    # blocked or withheld message, nor a notice to somebody else (a stranger's held mail named in
    # the seller's References told of mail the seller never got, by the stranger's own ID).
    # SQL: per delivery, as above (ADR 24)
    earlier = rows.fetchall(
        "SELECT id, author, channel, incoming_message_id, outbound_message_id "
        "FROM conversations_message WHERE conversation_id = %s AND created_at <= %s AND id <> %s "
        "AND ((author <> %s AND state = %s) OR (%s AND ((author = %s AND state = %s) OR "
        "(author = %s AND NOT is_auto)))) ORDER BY created_at DESC, id DESC LIMIT %s",
        [
            message.conversation_id,
            message.created_at,
            message.pk,
            Message.Author.MARKETPLACE.value,
            Message.State.RELAYED.value,
            reader == Message.Author.BUYER,
            Message.Author.BUYER.value,
            Message.State.CUSTOMER_SERVICE.value,
            Message.Author.MARKETPLACE.value,
            REFERENCES_KEPT,
        ],
    )
    earlier.reverse()

    def known_as(row: tuple[Any, ...]) -> str:
        _, author, channel, incoming, outbound = row
        if author == reader and channel == Message.Channel.MAIL and incoming:
            return str(incoming)
        return str(outbound)

    references = tuple(known_as(row) for row in earlier)
    parent = next((row for row in earlier if row[0] == message.parent_id), earlier[-1] if earlier else None)
    return (known_as(parent) if parent else ""), references
