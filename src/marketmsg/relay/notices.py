"""Telling a sender that their message could not be delivered, without revealing anything."""

from __future__ import annotations

import logging
import re

from marketmsg.addresses import services as addresses
from marketmsg.conversations import services
from marketmsg.conversations.models import Message
from marketmsg.delivery.models import Delivery
from marketmsg.mail import spelling
from marketmsg.mail.parsing import ADDRESS_RE

log = logging.getLogger(__name__)

_ANGLE_ADDRESS = re.compile(r"<[^<>@\s]*@[^<>\s]*>")
_QUOTED_ADDRESS = re.compile(r'"[^"\r\n]{0,256}"@[A-Za-z0-9.-]+')


def clean_reason(reply: str) -> str:
    """A remote server's answer with every address in it removed: it may name the real mailbox,
    in any spelling (full-width, with invisible characters, or a quoted local part)."""
    reply = _ANGLE_ADDRESS.sub("<…>", spelling.plainly(reply))
    reply = _QUOTED_ADDRESS.sub("…", reply)
    return ADDRESS_RE.sub("…", reply).strip()[:300]


def original_sender(message: Message) -> str:
    if message.author == Message.Author.BUYER:
        return message.conversation.buyer.email
    if message.sender_email:
        return message.sender_email
    return message.sender_user.email if message.sender_user else ""


def notify_failure(delivery: Delivery) -> Message | None:
    """Queue a bilingual delivery-failure notice to whoever wrote the failed message."""
    message = delivery.message
    if message.author == Message.Author.MARKETPLACE or message.is_auto:
        return None  # never answer a notice or an auto-reply: that is how loops start
    sender = original_sender(message)
    if not sender:
        return None
    conversation = message.conversation
    pair = addresses.relay_pair(conversation.buyer, conversation.seller)
    towards = pair.buyer_address if message.author == Message.Author.SELLER else pair.seller_address
    order = conversation.order.order_id if conversation.order else ""
    reason = clean_reason(delivery.last_reply) or "-"
    about = f"（注文番号 {order}）" if order else ""
    about_en = f" about order {order}" if order else ""
    text = (
        f"お送りいただいたメッセージ{about}を {towards.address} に配信できませんでした。\n"
        f"件名: {message.subject}\n理由: {reason}\n"
        "宛先のメールボックスが受け取りを拒否したか、長時間応答がありませんでした。"
        "Webのメッセージセンターから再度お送りいただくか、時間をおいてお試しください。\n\n"
        f"Your message{about_en} to {towards.address} could not be delivered.\n"
        f"Subject: {message.subject}\nReason: {reason}\n"
        "The recipient's mailbox refused it or did not answer for a long time. "
        "Please send it again from the web message center, or try again later.\n"
    )
    log.info("delivery %s failed; notifying its sender (message %s)", delivery.pk, message.pk)
    return services.post_notice(
        message, f"配信できませんでした / Undeliverable: {message.subject}", text, sender
    )
