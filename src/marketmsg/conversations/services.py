"""post_message: the one way a message enters marketmsg, whatever channel it came by.

It decides whether the message is relayed, held or suppressed, and stores the message, its raw
MIME and its pending deliveries in one transaction: when it returns, nothing can be lost.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from marketmsg import observability, rows
from marketmsg.accounts.models import Buyer, SellerAccount, User
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from marketmsg.conversations import drafts, record, stored
from marketmsg.conversations.drafts import Draft
from marketmsg.conversations.errors import Refusal, Refused
from marketmsg.conversations.models import Attachment, Conversation, Message, RawMime
from marketmsg.conversations.uploads import StoredFile
from marketmsg.delivery.models import Delivery
from marketmsg.mail import ownlinks
from marketmsg.metrics import tally
from marketmsg.orders.models import Order
from marketmsg.webhooks import events

Author = Message.Author
State = Message.State

AUTO_REPLY_WINDOW = timedelta(hours=24)


def new_message_id() -> str:
    """Ours for every message sent: the time first, so the unique index grows at its end instead of
    touching a random page per stored mail, then 64 random bits."""
    return f"<{time.time_ns() // 1000:x}.{secrets.token_hex(8)}@{settings.RELAY_DOMAIN}>"


def conversation_for(
    seller: SellerAccount, buyer: Buyer, order: Order | None = None, asin: str = ""
) -> Conversation:
    existing = existing_conversation(seller.pk, buyer.pk, order.pk if order else None, asin)
    if existing is not None:
        return existing
    new = Conversation(seller=seller, buyer=buyer, order=order, asin="" if order is not None else asin)
    # SQL: insert unless the unique pair exists, without a savepoint (the mail path's inserts, ADR 24)
    if rows.save_new_unless_clash(new) is not None:
        return new
    # Another process created the same conversation first; the unique constraints say so.
    existing = existing_conversation(seller.pk, buyer.pk, order.pk if order else None, asin)
    if existing is None:
        raise RuntimeError(f"conversation for seller {seller.pk} and buyer {buyer.pk} neither new nor found")
    return existing


_CONVERSATION_COLUMNS = [f.attname for f in Conversation._meta.concrete_fields]


def _conversation_where(condition: str, params: list[Any]) -> Conversation | None:
    """One conversation by a hand-written condition, loaded as the ORM would (ADR 4)."""
    # SQL: the mail path's conversation look-up (ORM reads: the gateway at 0.40 × its rate, ADR 24)
    found = rows.fetchall(
        f"SELECT {', '.join(_CONVERSATION_COLUMNS)} FROM conversations_conversation WHERE {condition}",
        params,
    )
    if not found:
        return None
    return rows.loaded(Conversation, dict(zip(_CONVERSATION_COLUMNS, found[0], strict=True)))


def conversation_by_id(conversation_id: int) -> Conversation:
    found = _conversation_where("id = %s", [conversation_id])
    assert found is not None, f"conversation {conversation_id} vanished"
    return found


def existing_conversation(
    seller_id: int, buyer_id: int, order_id: int | None, asin: str
) -> Conversation | None:
    """The common case on the mail path, without the ORM's query building."""
    if order_id is not None:
        return _conversation_where(
            "seller_id = %s AND buyer_id = %s AND order_id = %s", [seller_id, buyer_id, order_id]
        )
    return _conversation_where(
        "seller_id = %s AND buyer_id = %s AND order_id IS NULL AND asin = %s", [seller_id, buyer_id, asin]
    )


def authorize(draft: Draft) -> str:
    """The state the message starts in, or Refused. The sender-address rules live here only."""
    is_mail = draft.channel == Message.Channel.MAIL
    if draft.author == Author.BUYER and is_mail and draft.sender_email.lower() != draft.buyer.email.lower():
        raise Refused(Refusal.SENDER_NOT_BUYER)
    if draft.author == Author.SELLER and draft.channel == Message.Channel.MAIL:
        if not draft.sender_email:
            raise Refused(Refusal.NO_SENDER)
        if draft.sender_email.lower() == draft.buyer.email.lower():
            # Held as an unknown sender, it would put the buyer's real address in the seller's
            # sender list and on the seller's pages.
            raise Refused(Refusal.SENDER_IS_THE_BUYER)
        state = addresses.sender_state(draft.seller, draft.sender_email)
        if state == SenderAddress.State.BLOCKED:
            raise Refused(Refusal.SENDER_BLOCKED)
        if state != SenderAddress.State.APPROVED:
            addresses.record_unknown_sender(draft.seller, draft.sender_email)
            return State.HELD
    return State.RELAYED


def _loops(conversation: Conversation, draft: Draft) -> bool:
    """An auto-reply is relayed at most once a day per side, and never in answer to another one."""
    if not draft.is_auto or draft.author == Author.MARKETPLACE:
        return False  # our own notices are never suppressed: every failure is reported
    last = conversation.messages.order_by("-created_at", "-id").first()
    if last is not None and last.is_auto:
        return True
    since = timezone.now() - AUTO_REPLY_WINDOW
    return conversation.messages.filter(author=draft.author, is_auto=True, created_at__gte=since).exists()


def recipients_of(draft: Draft) -> list[str]:
    if draft.recipients is not None:
        return draft.recipients
    if draft.author == Author.BUYER:
        return draft.seller.notification_addresses()
    return [draft.buyer.email]


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters, which hostile or broken mail may carry."""
    return value.replace("\x00", "\ufffd")


# Whole seconds from a row's created_at to a moment, as each database writes it.
_SECONDS_SINCE = {
    "sqlite": "MAX(0, CAST(ROUND((julianday(%s) - julianday(created_at)) * 86400) AS INTEGER))",
    "postgresql": "GREATEST(0, CAST(EXTRACT(EPOCH FROM (%s - created_at)) AS INTEGER))",
}


def _final_state(draft: Draft, conversation: Conversation, state: str) -> str:
    """The state the message is stored in, from what ``authorize`` allowed and what ``prepare``
    decided: an auto-reply that would loop is suppressed, a buyer's message for customer service
    is kept for the marketplace's staff, a seller's message the guidelines block is kept, blocked."""
    if state == State.RELAYED and _loops(conversation, draft):
        return State.SUPPRESSED
    if draft.author == Author.BUYER and state == State.RELAYED and draft.decided.customer_service:
        return State.CUSTOMER_SERVICE  # the seller gets nothing
    screening = draft.decided.screening
    if screening is not None and screening.blocked:
        return State.BLOCKED  # kept, with the rules that fired, and never delivered
    return state


def _count_response_time(message: Message, draft: Draft) -> None:
    """Keep the response-time figures (SPEC F6): a counted buyer message arrives in the tally; a
    seller's message answers every earlier buyer message of the conversation that was waiting and
    fixes its response time. An auto-reply answers nothing and is not counted."""
    if draft.is_auto:
        return
    if message.author == Author.BUYER and message.state != State.CUSTOMER_SERVICE:
        tally.received(message.seller_id, message.created_at)
    elif message.author == Author.SELLER and message.state == State.RELAYED:
        _answer_waiting(message.conversation_id, message.seller_id, message.created_at)


def _answer_waiting(conversation_id: int, seller_id: int, at: datetime) -> None:
    """A seller's message reaches the buyer at ``at``: it answers every buyer message of the
    conversation still waiting, fixing their response times (SPEC F6)."""
    # SQL: one UPDATE … RETURNING answers every waiting message and gives the tally its figures
    answers = rows.fetchall(
        "UPDATE conversations_message SET needs_reply = %s, "
        f"response_seconds = {_SECONDS_SINCE[connection.vendor]} "
        "WHERE conversation_id = %s AND author = %s AND needs_reply "
        f"RETURNING {tally.epoch_sql('created_at')}, response_seconds",
        [False, rows.db_value(at), conversation_id, Author.BUYER.value],
    )
    if answers:
        tally.answered(seller_id, answers)


def release_held(seller: SellerAccount, sender_email: str) -> int:
    """The owner approved ``sender_email``: its held messages go out, oldest first, and each
    answers the buyer now (when the buyer gets it). Returns how many were released."""
    now = timezone.now()
    with transaction.atomic():
        held = list(
            Message.objects.select_for_update()
            .filter(seller=seller, state=State.HELD, sender_email=sender_email.lower())
            .order_by("created_at", "id")
            .values_list("id", "conversation_id", "author", "channel")
        )
        for message_id, conversation_id, author, channel in held:
            Message.objects.filter(pk=message_id).update(state=State.RELAYED)
            events.message_event(message_id, conversation_id, seller.pk, author, State.RELAYED, channel)
            # The worker takes deliveries by (next_attempt_at, id): same time, so in this order.
            Delivery.objects.filter(message_id=message_id, state=Delivery.State.HELD).update(
                state=Delivery.State.PENDING, next_attempt_at=now
            )
            _answer_waiting(conversation_id, seller.pk, now)
    return len(held)


def withhold_held(seller: SellerAccount, sender_email: str) -> list[Message]:
    """The owner blocked ``sender_email``: its held messages are never delivered. Returns them."""
    with transaction.atomic():
        held = list(
            Message.objects.select_for_update()
            .filter(seller=seller, state=State.HELD, sender_email=sender_email.lower())
            .order_by("created_at", "id")
        )
        for message in held:
            message.state = State.WITHHELD
            message.save(update_fields=["state"])
            Delivery.objects.filter(message=message, state=Delivery.State.HELD).update(
                state=Delivery.State.CANCELLED,
                finished_at=timezone.now(),
                last_reply="not delivered: the seller account blocked this sender",
            )
    return held


def _attachment_name(stored: StoredFile) -> str:
    return _text(stored.filename[:255])


# The head of a conversation's record chain: one seek of the index message_record_chain (a test
# reads this query's plan).
CHAIN_HEAD_SQL = (
    "SELECT record_hash FROM conversations_message WHERE conversation_id = %s ORDER BY id DESC LIMIT 1"
)


def _sealed(message: Message, files: list[StoredFile]) -> tuple[str, str]:
    """The message's link in its conversation's tamper-evident record (conversations.record)."""
    if connection.vendor == "postgresql":  # two writers to one conversation take turns here
        # SQL: PostgreSQL's row lock, on the mail path (ADR 24)
        rows.fetchall(
            "SELECT id FROM conversations_conversation WHERE id = %s FOR UPDATE", [message.conversation_id]
        )
    # SQL: the chain head by one index seek, on the mail path (ADR 24)
    last = rows.fetchall(CHAIN_HEAD_SQL, [message.conversation_id])
    content = record.Content.of(message, tuple((_attachment_name(f), f.size, f.sha256) for f in files))
    return record.sealed(last[0][0] if last else "", content)


def _counted(message: Message) -> None:
    """Prometheus counters, once the message is durable (observability)."""
    observability.MESSAGES.labels(message.author, message.state).inc()
    if message.state == State.BLOCKED:
        for rule in message.guideline_rules.split():
            observability.GUIDELINE_BLOCKS.labels(rule).inc()


def post_message(draft: Draft) -> Message:
    """Store the message with its deliveries; raises Refused when the sender may not write."""
    drafts.prepare(draft)  # nothing left to do when the channel prepared it outside the transaction
    # Inside the gateway's transaction no savepoint is needed: a refusal rolls back the whole mail.
    with transaction.atomic(savepoint=False):
        allowed = authorize(draft)
        conversation = draft.conversation or conversation_for(
            draft.seller, draft.buyer, draft.order, draft.asin
        )
        message = _new_message(draft, conversation, _final_state(draft, conversation, allowed))
        _store(message, draft)
        _count_response_time(message, draft)
        _announce(message, draft)
        _queue_deliveries(message, draft)
        if (
            message.state == State.CUSTOMER_SERVICE
            and draft.channel == Message.Channel.MAIL
            and not draft.is_auto
        ):
            _tell_buyer_customer_service_answers(conversation, message)
    return message


def _new_message(draft: Draft, conversation: Conversation, state: str) -> Message:
    """The message row as it will be written, sealed into its conversation's record."""
    text, html, decision = draft.text, draft.html, {}
    if draft.decided.screening is not None:
        screening = draft.decided.screening
        text, html, decision = screening.text, screening.html, screening.recorded()
    # A quoted relayed mail carries the seller's own "no reply needed" link: it stops here.
    text, html = ownlinks.without_own_links(text), ownlinks.without_own_links_html(html)
    raw = draft.mail.raw if draft.mail else None
    message = rows.new(
        Message,
        {
            "seller_id": conversation.seller_id,
            "author": draft.author,
            "channel": draft.channel,
            "state": state,
            "sender_email": _text(draft.sender_email.lower()),
            "subject": _text(draft.subject[:998]),
            "text": _text(text),
            "html": _text(html),
            "has_attachments": draft.has_attachments or bool(draft.files),
            "is_auto": draft.is_auto,
            "needs_reply": draft.author == Author.BUYER and not draft.is_auto and state == State.RELAYED,
            "incoming_message_id": _text(draft.mail.message_id[:998]) if draft.mail else "",
            "outbound_message_id": new_message_id(),
            "raw_sha256": hashlib.sha256(raw).hexdigest() if raw is not None else "",
            "raw_size": len(raw) if raw is not None else 0,
            "created_at": timezone.now(),
            "reason": draft.reason,
            "authentication": draft.mail.authentication if draft.mail else {},
            **decision,
        },
        {"conversation": conversation, "sender_user": draft.sender_user, "parent": draft.parent},
    )
    message.content_digest, message.record_hash = _sealed(message, draft.files)
    return message


def _store(message: Message, draft: Draft) -> None:
    """The message, its raw MIME and its files' rows. Hand-written writes (ADR 5): every mail,
    web and API message passes here."""
    # SQL: the mail path's inserts (through the ORM: the gateway at 0.72 × its rate, ADR 24)
    rows.save_new(message)
    if draft.mail is not None:
        blob = draft.mail.raw_blob or stored.put_raw(draft.mail.raw)
        rows.insert(RawMime, message_id=message.pk, blob=blob, data=None, removed_reason="")
    for file in draft.files:
        rows.insert(
            Attachment,
            message_id=message.pk,
            filename=_attachment_name(file),
            content_type=file.content_type,
            size=file.size,
            sha256=file.sha256,
            file=file.name,
            created_at=message.created_at,
            removed_reason="",
        )


def _announce(message: Message, draft: Draft) -> None:
    """The webhook event now (the outbox, same transaction); the Prometheus counters once the
    message is durable."""
    events.message_event(
        message.pk,
        message.conversation_id,
        message.seller_id,
        draft.author,
        message.state,
        draft.channel,
        message.guideline_rules,
    )
    transaction.on_commit(lambda: _counted(message))


def _queue_deliveries(message: Message, draft: Draft) -> None:
    """One delivery per recipient: pending for the worker, or held until the owner approves the
    sender; none for a message that goes nowhere (blocked, suppressed, customer service)."""
    delivery_state = {
        State.RELAYED.value: Delivery.State.PENDING,
        State.HELD.value: Delivery.State.HELD,
    }.get(message.state)
    if delivery_state is None:
        return
    # SQL: the mail path's inserts, as in _store (ADR 24)
    for recipient in recipients_of(draft):
        rows.insert(
            Delivery,
            message_id=message.pk,
            recipient=recipient,
            state=delivery_state,
            next_attempt_at=message.created_at,
            created_at=message.created_at,
        )


def _tell_buyer_customer_service_answers(conversation: Conversation, message: Message) -> None:
    """A buyer who wrote by mail learns at once that the marketplace, not the seller, answers
    (on the web the page says so); once customer service has answered, the buyer knows."""
    if conversation.messages.filter(author=Author.MARKETPLACE, is_auto=False).exists():
        return
    text = (
        "お問い合わせありがとうございます。このご注文はマーケットプレイスの配送センターから出荷されたため、"
        "お問い合わせはマーケットプレイスのカスタマーサービスが承り、担当者からご連絡いたします。"
        "出品者には転送されません。\n\n"
        "Thank you for your message. This order was shipped from the marketplace's fulfilment centre, "
        "so marketplace customer service will answer you; it was not forwarded to the seller.\n"
    )
    post_notice(
        message,
        f"カスタマーサービスが対応します / Customer service will answer: {message.subject}",
        text,
        conversation.buyer.email,
    )


def answer_as_marketplace(about: Message, text: str, staff: User) -> Message:
    """Marketplace customer service answers a buyer's message (SPEC F9, F11): to the buyer, from
    the marketplace's own relay identity, threaded under the buyer's message."""
    return _from_marketplace(
        about, "Re: " + about.subject, text, about.conversation.buyer.email, Message.Channel.WEB, staff
    )


def post_notice(about: Message, subject: str, text: str, to: str) -> Message:
    """The marketplace's own notice about ``about``, to one address, in its conversation. Never
    listed in the message center, never answered (it is automatic)."""
    return _from_marketplace(about, subject, text, to, Message.Channel.SYSTEM)


def _from_marketplace(
    about: Message, subject: str, text: str, to: str, channel: str, staff: User | None = None
) -> Message:
    """A message the marketplace writes in ``about``'s conversation, to one address. Without a
    staff member it is an automatic notice."""
    conversation = about.conversation
    return post_message(
        Draft(
            seller=conversation.seller,
            buyer=conversation.buyer,
            author=Author.MARKETPLACE,
            channel=channel,
            subject=subject[:998],
            text=text,
            sender_email=staff.email if staff else "",
            sender_user=staff,
            conversation=conversation,
            parent=about,
            is_auto=staff is None,
            recipients=[to],
        )
    )
