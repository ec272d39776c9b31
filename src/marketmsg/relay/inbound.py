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
from typing import Any

from django.db import transaction

from marketmsg import rows
from marketmsg.addresses import customer_service
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import RelayAddress, SenderAddress
from marketmsg.conversations import drafts, services, stored, uploads
from marketmsg.conversations.drafts import Decisions, Draft, Received
from marketmsg.conversations.errors import Refusal, Refused
from marketmsg.conversations.models import Conversation, Message
from marketmsg.conversations.uploads import NewFile
from marketmsg.delivery import verp
from marketmsg.mail import parsing
from marketmsg.mail.autoreply import is_auto_generated
from marketmsg.orders import identifiers
from marketmsg.orders.models import Order
from marketmsg.policy import attachments as attachment_rules
from marketmsg.relay import attachments
from marketmsg.relay import bounces as delivery_bounces

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
    if customer_service.conversation_id_of(address) is not None:
        return RecipientCheck.OK, None  # the buyer is checked at DATA, with the From header
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
    # The guideline rules that blocked the mail: it is kept for staff, and refused to the sender.
    blocked_rules: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """One incoming mail made ready to store: a draft per relay recipient, bounces by delivery."""

    mail: MailMessage
    drafts: list[Draft] = field(default_factory=list)
    bounced_deliveries: list[int] = field(default_factory=list)


def receive(
    raw: bytes, envelope_from: str, recipients: list[str], known: Mapping[str, RelayAddress] | None = None
) -> Receipt:
    """Store one incoming mail for each recipient in one transaction, or raise Refused."""
    return store(prepare(raw, envelope_from, recipients, known))


def prepare(
    raw: bytes,
    envelope_from: str,
    recipients: list[str],
    known: Mapping[str, RelayAddress] | None = None,
    authentication: dict[str, Any] | None = None,
    parsed: MailMessage | None = None,
    raw_blob: str | None = None,
) -> Prepared:
    """Parse, scrub and thread the mail: reads only, so it runs outside the write transaction.

    ``known`` holds relay addresses already looked up at RCPT time; ``authentication`` is the
    sender-authentication verdict the gateway found (stored with each message); ``parsed`` is
    ``raw`` already parsed by ``parsing.parse``, if it was; ``raw_blob`` its name in the blob store
    when the caller wrote it already (write_raw). Raises Refused.
    """
    prepared = Prepared(parsed if parsed is not None else parsing.parse(raw))
    if parsing.too_many_parts(prepared.mail):
        raise Refused(Refusal.TOO_MANY_PARTS)
    # One message per distinct recipient: an envelope naming one relay address 25 times stored 20
    # copies and delivered 20 identical mails.
    recipients = list({recipient.lower(): recipient for recipient in reversed(recipients)}.values())[::-1]
    bounces = {recipient: verp.delivery_id_of(recipient) for recipient in recipients}
    # Reports to VERP addresses carry no files; mail to a relay address must pass the file rules.
    files = _checked_files(prepared.mail) if None in bounces.values() else []
    # One blob for every recipient's copy, written outside the write transaction (ADR 21).
    if raw_blob is None:
        raw_blob = stored.put_raw(raw) if None in bounces.values() else ""
    for recipient in recipients:
        delivery_id = bounces[recipient]
        if delivery_id is not None:
            prepared.bounced_deliveries.append(delivery_id)
            continue
        answering = _customer_service_conversation(recipient)
        relay: RelayAddress | None
        if answering is not None:
            relay = addresses.relay_pair(answering.buyer, answering.seller).seller_address
        else:
            relay = (known or {}).get(recipient) or addresses.find_relay_address(recipient)
        if relay is None:  # deactivated between RCPT and DATA
            raise Refused(Refusal.UNKNOWN_RECIPIENT, "deactivated between RCPT and DATA")
        draft = _draft(prepared.mail, raw, envelope_from, relay, files, answering)
        assert draft.mail is not None
        draft.mail.raw_blob, draft.mail.authentication = raw_blob, authentication or {}
        prepared.drafts.append(draft)
    _screen_together(prepared.drafts)
    return prepared


def write_raw(raw: bytes, recipients: list[str]) -> str | None:
    """The mail's raw MIME written to the blob store, unless every recipient is a VERP bounce
    address (a delivery report is not stored as a message). For callers that write it on a thread
    of their own before ``prepare``: the gateway, whose event loop must not wait for a disk."""
    if all(verp.delivery_id_of(recipient) is not None for recipient in recipients):
        return None
    return stored.put_raw(raw)


def _screen_together(prepared: list[Draft]) -> None:
    """Each copy prepared (drafts.prepare: scrubbed, routed, screened) here, outside the write
    transaction. One mail gets one SMTP answer, so when one seller copy is blocked every copy is
    (and none is delivered)."""
    for draft in prepared:
        drafts.prepare(draft)
    screened = [d.decided.screening for d in prepared if d.decided.screening is not None]
    blocked = tuple(r for s in screened for r in s.blocked_rules)
    if blocked:
        for draft in prepared:
            if draft.decided.screening is not None:
                draft.decided.screening = draft.decided.screening.blocked_too(blocked)


_ATTACHMENT_REFUSALS = {
    attachment_rules.Rule.TOO_LARGE: Refusal.ATTACHMENTS_TOO_LARGE,
    attachment_rules.Rule.TYPE_NOT_ALLOWED: Refusal.ATTACHMENT_TYPE_NOT_ALLOWED,
    attachment_rules.Rule.NAME_DISAGREES: Refusal.ATTACHMENT_NAME_DISAGREES,
    attachment_rules.Rule.UNREADABLE_IMAGE: Refusal.ATTACHMENT_UNREADABLE,
}


def _checked_files(mail: MailMessage) -> list[NewFile]:
    """Refuse the whole mail at SMTP time when a file breaks a rule: nothing is silently dropped."""
    try:
        return attachments.check_mail(mail)
    except attachment_rules.AttachmentRefused as error:
        found = error.refusal
        detail = f"{found.filename or 'a nameless part'} ({found.detected})"
        raise Refused(_ATTACHMENT_REFUSALS[found.rule], detail) from error


def store(prepared: Prepared) -> Receipt:
    """Write everything ``prepare`` made in one transaction: all of it, or (Refused) none of it."""
    receipt = Receipt()
    # No savepoint of its own: inside the gateway's batch, the batch gives each mail one.
    with transaction.atomic(savepoint=False):
        for delivery_id in prepared.bounced_deliveries:
            delivery_bounces.record_bounce(delivery_id, prepared.mail)
            receipt.bounces += 1
        for draft in prepared.drafts:
            message = services.post_message(draft)
            receipt.message_ids.append(message.pk)
            receipt.held += message.state == Message.State.HELD
            if message.state == Message.State.BLOCKED:
                receipt.blocked_rules += [
                    r for r in message.guideline_rules.split() if r not in receipt.blocked_rules
                ]
    return receipt


def _customer_service_conversation(recipient: str) -> Conversation | None:
    """The conversation whose customer-service address ``recipient`` is, if it is one."""
    conversation_id = customer_service.conversation_id_of(recipient)
    if conversation_id is None:
        return None
    found = Conversation.objects.select_related("buyer", "seller").filter(pk=conversation_id).first()
    if found is None:  # signed by us, yet gone: cannot happen while nothing is deleted
        raise Refused(Refusal.UNKNOWN_RECIPIENT, "customer-service conversation not found")
    return found


def _draft(
    mail: MailMessage,
    raw: bytes,
    envelope_from: str,
    relay: RelayAddress,
    files: list[NewFile],
    answering: Conversation | None = None,
) -> Draft:
    """``answering``: the mail came to customer service's address in that conversation, so it is
    the buyer writing to the marketplace, threaded there, and never the seller's to read."""
    seller, buyer = relay.seller, relay.buyer
    sender = parsing.from_address(mail) or envelope_from.lower()
    if not sender:
        raise Refused(Refusal.NO_SENDER)
    if sender.rpartition("@")[2] in addresses.relay_domains():
        # Our own relayed mail coming back (a mailbox forwarding to a relay address): stop here.
        raise Refused(Refusal.LOOP)
    author = Message.Author.SELLER if relay.side == RelayAddress.Side.BUYER else Message.Author.BUYER
    body = parsing.bodies(mail)
    subject = parsing.header_text(mail, "Subject")
    place = thread(mail, relay, subject)
    customer_service = None
    if answering is not None:
        in_it = place.conversation is not None and place.conversation.pk == answering.pk
        place = Place(conversation=answering, parent=place.parent if in_it else None)
        customer_service = True
    draft = Draft(
        seller=seller,
        buyer=buyer,
        author=author,
        channel=Message.Channel.MAIL,
        subject=subject,
        text=body.text,
        html=body.html,
        sender_email=sender,
        conversation=place.conversation,
        order=place.order,
        parent=place.parent,
        has_attachments=body.has_attachments,
        is_auto=is_auto_generated(mail, envelope_from),
        mail=Received(
            raw=raw,
            message_id=(parsing.message_ids(mail, "Message-ID") or [""])[0],
            other_texts=tuple(parsing.other_texts(mail)) if author == Message.Author.SELLER else (),
            html_as_received=body.html if author == Message.Author.SELLER else "",
        ),
        decided=Decisions(customer_service=customer_service),
    )
    # Files written now, outside the write transaction (ADR 7), scrubbed as the relayed mail will be.
    mapping = drafts.replacements(draft, addresses.relay_pair_of(relay))
    draft.files = uploads.store(uploads.scrubbed(files, mapping))
    return draft


@dataclass(frozen=True)
class Place:
    """Where a mail belongs. With no conversation, post_message finds or starts the one for the
    order (or the pair's general one) inside the write transaction."""

    conversation: Conversation | None = None
    parent: Message | None = None
    order: Order | None = None


def thread(mail: MailMessage, relay: RelayAddress, subject: str) -> Place:
    """By reply headers (that conversation and parent), else an order ID in the subject, else general."""
    refs = parsing.message_ids(mail, "In-Reply-To", "References")[-MAX_REFERENCES:]
    if refs:
        found = _parent_in_pair(relay.seller_id, relay.buyer_id, refs)
        if found is not None:
            return Place(conversation=found[0], parent=found[1])
    for order_id in identifiers.order_ids_in(subject):
        order = _order_of_pair(order_id, relay.seller_id, relay.buyer_id)
        if order is not None:
            existing = services.existing_conversation(relay.seller_id, relay.buyer_id, order.pk, "")
            return Place(conversation=existing, order=order)
    return Place(conversation=services.existing_conversation(relay.seller_id, relay.buyer_id, None, ""))


# A reply's References can list a whole long thread; the latest ones are enough to find it.
MAX_REFERENCES = 50


def _parent_in_pair(seller_id: int, buyer_id: int, refs: list[str]) -> tuple[Conversation, Message] | None:
    """The latest message of this buyer–seller pair that the reply headers name (hand-written, ADR 5)."""
    marks = ", ".join(["%s"] * len(refs))
    # SQL: the mail path's thread look-up (ADR 24)
    found = rows.fetchall(
        "SELECT m.id, m.conversation_id FROM conversations_message m "
        "JOIN conversations_conversation c ON c.id = m.conversation_id "
        f"WHERE c.seller_id = %s AND c.buyer_id = %s "
        f"AND (m.outbound_message_id IN ({marks}) OR m.incoming_message_id IN ({marks})) "
        "ORDER BY m.created_at DESC, m.id DESC LIMIT 1",
        [seller_id, buyer_id, *refs, *refs],
    )
    if not found:
        return None
    message_id, conversation_id = found[0]
    conversation = services.conversation_by_id(conversation_id)
    parent = rows.loaded(Message, {"id": message_id, "conversation_id": conversation_id})
    parent.conversation = conversation
    return conversation, parent


def _order_of_pair(order_id: str, seller_id: int, buyer_id: int) -> Order | None:
    # SQL: the mail path's order look-up (ADR 24)
    found = rows.fetchall(
        "SELECT id FROM orders_order WHERE order_id = %s AND seller_id = %s AND buyer_id = %s",
        [order_id, seller_id, buyer_id],
    )
    return rows.loaded(Order, {"id": found[0][0]}) if found else None
