"""Mail in: from raw bytes and an SMTP envelope to stored messages, through the one pipeline.

The gateway calls ``check_recipient`` at RCPT time and ``receive`` at DATA time; both return
domain results that the gateway turns into SMTP replies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message as MailMessage
from enum import Enum

from django.db import transaction
from django.db.models import Q

from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import RelayAddress, SenderAddress
from marketmsg.conversations import services
from marketmsg.conversations.errors import Refusal, Refused
from marketmsg.conversations.models import Conversation, Message
from marketmsg.delivery import bounces as delivery_bounces
from marketmsg.delivery import verp
from marketmsg.orders.models import ORDER_ID_RE, Order
from marketmsg.relay import parsing, scrub
from marketmsg.relay.autoreply import is_auto_generated

log = logging.getLogger(__name__)


class RecipientCheck(Enum):
    OK = "ok"
    BOUNCE = "bounce"
    NOT_OUR_DOMAIN = "not_our_domain"
    UNKNOWN = "unknown"
    SENDER_BLOCKED = "sender_blocked"


def check_recipient(address: str, envelope_from: str) -> tuple[RecipientCheck, RelayAddress | None]:
    """The RCPT-time verdict (refuse what we know we will refuse, as early as possible), and the
    relay address found, which DATA may reuse instead of looking it up again."""
    if verp.delivery_id_of(address) is not None:
        return RecipientCheck.BOUNCE, None
    if address.rpartition("@")[2].lower() not in addresses.relay_domains():
        return RecipientCheck.NOT_OUR_DOMAIN, None
    relay = addresses.find_relay_address(address)
    if relay is None:
        return RecipientCheck.UNKNOWN, None
    if relay.side == RelayAddress.Side.BUYER and envelope_from:
        state = addresses.sender_state(relay.seller, envelope_from)
        if state == SenderAddress.State.BLOCKED:
            return RecipientCheck.SENDER_BLOCKED, relay
    return RecipientCheck.OK, relay


@dataclass
class Receipt:
    """What DATA produced: stored message IDs, and how many of them were held."""

    message_ids: list[int] = field(default_factory=list)
    held: int = 0
    bounces: int = 0


def receive(
    raw: bytes, envelope_from: str, recipients: list[str], known: Mapping[str, RelayAddress] | None = None
) -> Receipt:
    """Store one incoming mail for each recipient in one transaction, or raise Refused.

    ``known`` holds relay addresses already looked up at RCPT time.
    """
    mail = parsing.parse(raw)
    receipt = Receipt()
    with transaction.atomic():
        for recipient in recipients:
            delivery_id = verp.delivery_id_of(recipient)
            if delivery_id is not None:
                delivery_bounces.record_bounce(delivery_id, mail)
                receipt.bounces += 1
                continue
            relay = (known or {}).get(recipient) or addresses.find_relay_address(recipient)
            if relay is None:  # deactivated between RCPT and DATA
                raise Refused(Refusal.UNKNOWN_RECIPIENT, "deactivated between RCPT and DATA")
            message = services.post_message(_draft(mail, raw, envelope_from, relay))
            receipt.message_ids.append(message.pk)
            receipt.held += message.state == Message.State.HELD
    return receipt


def _draft(mail: MailMessage, raw: bytes, envelope_from: str, relay: RelayAddress) -> services.Draft:
    seller, buyer = relay.seller, relay.buyer
    sender = parsing.from_address(mail) or envelope_from.lower()
    if not sender:
        raise Refused(Refusal.NO_SENDER)
    if sender.rpartition("@")[2] in addresses.relay_domains():
        # Our own relayed mail coming back (a mailbox forwarding to a relay address): stop here.
        raise Refused(Refusal.LOOP)
    author = Message.Author.SELLER if relay.side == RelayAddress.Side.BUYER else Message.Author.BUYER
    pair = addresses.relay_pair_of(relay)
    replacements = replacement_map(pair, extra_seller={sender} if author == Message.Author.SELLER else set())
    body = parsing.bodies(mail)
    conversation, parent = thread(mail, relay)
    return services.Draft(
        seller=seller,
        buyer=buyer,
        author=author,
        channel=Message.Channel.MAIL,
        subject=scrub.scrub_text(parsing.header_text(mail, "Subject"), replacements),
        text=scrub.scrub_text(body.text, replacements),
        html=scrub.scrub_html(body.html, replacements) if body.html else "",
        sender_email=sender,
        conversation=conversation,
        parent=parent,
        raw=raw,
        incoming_message_id=(parsing.message_ids(mail, "Message-ID") or [""])[0],
        has_attachments=body.has_attachments,
        is_auto=is_auto_generated(mail, envelope_from),
    )


def replacement_map(pair: addresses.RelayPair, extra_seller: set[str] | None = None) -> dict[str, str]:
    """Each real address of either party mapped to that party's relay address."""
    buyer_relay, seller_relay = pair.buyer_address, pair.seller_address
    sellers = addresses.seller_real_addresses(seller_relay.seller) | (extra_seller or set())
    mapping = {a: seller_relay.address for a in sellers}
    mapping[buyer_relay.buyer.email.lower()] = buyer_relay.address
    return mapping


def thread(mail: MailMessage, relay: RelayAddress) -> tuple[Conversation, Message | None]:
    """The conversation and parent message: by reply headers, else order ID in the subject, else general."""
    refs = parsing.message_ids(mail, "In-Reply-To", "References")
    pair_messages = Message.objects.filter(
        conversation__seller=relay.seller, conversation__buyer=relay.buyer
    ).select_related("conversation")
    if refs:
        parent = (
            pair_messages.filter(Q(outbound_message_id__in=refs) | Q(incoming_message_id__in=refs))
            .order_by("-created_at", "-id")
            .first()
        )
        if parent is not None:
            return parent.conversation, parent
    for order_id in ORDER_ID_RE.findall(parsing.header_text(mail, "Subject")):
        order = Order.objects.filter(order_id=order_id, seller=relay.seller, buyer=relay.buyer).first()
        if order is not None:
            return services.conversation_for(relay.seller, relay.buyer, order=order), None
    return services.conversation_for(relay.seller, relay.buyer), None
