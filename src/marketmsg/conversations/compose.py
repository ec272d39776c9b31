"""Messages written on the web: replies, "contact buyer", "contact seller", product questions.

Each one becomes a Draft for ``post_message``, the same service the SMTP gateway uses, so a web
message is stored, checked and delivered exactly like mail (SPEC: the channels are one). The
functions here only decide who writes to whom, about what, under which subject and in answer to
which message; they raise ``FormProblem`` with a sentence the form shows next to the field.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from marketmsg import rows
from marketmsg.accounts.models import Buyer, SellerAccount, User
from marketmsg.conversations import drafts, placeholders, screening, templating, uploads
from marketmsg.conversations.drafts import Draft
from marketmsg.conversations.errors import FormProblem, GuidelinesProblem
from marketmsg.conversations.models import Conversation, Message
from marketmsg.conversations.services import conversation_for, post_message
from marketmsg.metrics import tally
from marketmsg.orders.models import Order

MAX_TEXT = 20_000
MAX_SUBJECT = 200

Author = Message.Author

# Topics a buyer picks when contacting a seller about an order (SPEC F3); the key is stored in the
# subject in the seller's language, since the seller reads it in a mail client too.
TOPICS: dict[str, tuple[str, Promise]] = {
    "product": ("商品について", _("Product question")),
    "shipping": ("配送について", _("Shipping")),
    "return": ("返品・返金について", _("Return or refund")),
    "other": ("その他のお問い合わせ", _("Other")),
}


def _clean_text(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise FormProblem("text", _("Write a message before sending."))
    if len(text) > MAX_TEXT:
        raise FormProblem(
            "text", _("The message is too long (at most %(max)d characters).") % {"max": MAX_TEXT}
        )
    return text


def _clean_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if len(subject) > MAX_SUBJECT:
        raise FormProblem(
            "subject", _("The subject is too long (at most %(max)d characters).") % {"max": MAX_SUBJECT}
        )
    return subject


def _reply_subject(subject: str) -> str:
    if subject[:3].lower() == "re:":
        return subject
    return f"Re: {subject}" if subject else "Re:"


def _last_from(conversation: Conversation, author: str) -> Message | None:
    """The latest message the other side wrote: a reply answers it (and threads under it)."""
    return (
        conversation.messages.filter(author=author)
        .exclude(state=Message.State.BLOCKED)
        .order_by("-created_at", "-id")
        .first()
    )


def _post(
    user: User,
    conversation: Conversation,
    author: str,
    subject: str,
    text: str,
    files: Sequence[UploadedFile] = (),
    reason: str = "",
    channel: str = Message.Channel.WEB,
    topic: str = "",
) -> Message:
    """One web or API message through the pipeline, in answer to the other side's latest message.

    A buyer's real address goes with the draft as a mail's would (post_message checks it); a
    seller user is known by their account, since the web has no sending address to approve.
    A seller's message that the guidelines block is stored as blocked, then GuidelinesProblem."""
    other = Author.SELLER if author == Author.BUYER else Author.BUYER
    if author == Author.SELLER:
        # Placeholders typed or left in by hand are filled as an inserted template's are; an
        # unknown one is refused, so a buyer never reads "{…}".
        problem = templating.unknown_placeholder_problem(text)
        if problem is not None:
            raise problem
        if placeholders.used(text):  # the values cost queries; most messages have none
            text = placeholders.fill(text, templating.values_for(conversation.seller, conversation))
    draft = Draft(
        seller=conversation.seller,
        buyer=conversation.buyer,
        author=author,
        channel=channel,
        subject=subject,
        text=text,
        sender_email=user.email if author == Author.BUYER else "",
        sender_user=user,
        conversation=conversation,
        parent=_last_from(conversation, other),
        reason=reason,
        topic=topic,
    )
    if files:  # scrubbed as the texts are, and written before the transaction (ADR 7)
        draft.files = uploads.store(uploads.scrubbed(uploads.accept(list(files)), drafts.replacements(draft)))
    message = post_message(drafts.prepare(draft))  # the guideline check runs outside the transaction
    screened = draft.decided.screening
    if screened is not None and screened.blocked:
        findings = tuple(f for f in screened.verdict.findings if f.severity == "block")
        raise GuidelinesProblem(findings, screened.opted_out, message.pk)
    return message


def _reply(
    user: User,
    conversation: Conversation,
    author: str,
    text: str,
    files: Sequence[UploadedFile],
    channel: str = Message.Channel.WEB,
) -> Message:
    other = Author.SELLER if author == Author.BUYER else Author.BUYER
    answered = _last_from(conversation, other)
    subject = _reply_subject(answered.subject if answered else _opening_subject(conversation))
    return _post(user, conversation, author, subject, _clean_text(text), files, channel=channel)


def seller_reply(
    user: User,
    conversation: Conversation,
    text: str,
    no_reply_needed: bool = False,
    files: Sequence[UploadedFile] = (),
    channel: str = Message.Channel.WEB,
    carried: Sequence[int] = (),
) -> Message | None:
    """A seller user answers the buyer; or, with the checkbox, marks the buyer's messages as needing
    no reply and sends nothing (SPEC F4). Returns the message sent, if any."""
    if no_reply_needed:
        if text.strip():
            raise FormProblem(
                "text",
                _(
                    "“Mark as no response needed” sends nothing. Clear the text to mark the message, "
                    "or untick the box to send your reply."
                ),
            )
        mark_conversation_no_reply_needed(conversation, user)
        return None
    files = [*files, *uploads.carried_over(conversation, carried)]
    return _reply(user, conversation, Author.SELLER, text, files, channel)


def buyer_reply(
    user: User, conversation: Conversation, text: str, files: Sequence[UploadedFile] = ()
) -> Message:
    return _reply(user, conversation, Author.BUYER, text, files)


def _opening_subject(conversation: Conversation) -> str:
    if conversation.order is not None:
        return default_subject(conversation.order)
    if conversation.asin:
        return f"商品 {conversation.asin} について"
    return "お問い合わせ"


def default_subject(order: Order) -> str:
    return f"注文 {order.order_id} について"


def contact_buyer(
    user: User,
    order: Order,
    subject: str,
    text: str,
    files: Sequence[UploadedFile] = (),
    reason: str = "other",
    channel: str = Message.Channel.WEB,
) -> Message:
    """Manage orders › Contact buyer: a new message (or the next one) in the order's conversation,
    for one of the reasons (an order problem reaches a buyer who declined unprompted messages)."""
    if reason not in screening.REASONS:
        raise FormProblem("reason", _("Choose why you are writing to the buyer."))
    cleaned = _clean_subject(subject) or default_subject(order)
    if order.order_id not in cleaned:
        cleaned = f"{cleaned} (注文 {order.order_id})"
    body = _clean_text(text)
    conversation = conversation_for(order.seller, order.buyer, order)
    return _post(user, conversation, Author.SELLER, cleaned, body, files, reason=reason, channel=channel)


def contact_seller(
    user: User, order: Order, topic: str, text: str, files: Sequence[UploadedFile] = ()
) -> Message:
    """The buyer writes to the order's seller about one of the topics."""
    if topic not in TOPICS:
        raise FormProblem("topic", _("Choose what your question is about."))
    body = _clean_text(text)
    conversation = conversation_for(order.seller, order.buyer, order)
    subject = f"【{TOPICS[topic][0]}】注文 {order.order_id}"
    return _post(user, conversation, Author.BUYER, subject, body, files, topic=topic)


def ask_about_product(user: User, buyer: Buyer, seller: SellerAccount, asin: str, text: str) -> Message:
    """A question about a product before purchase: a conversation about the ASIN, without an order."""
    body = _clean_text(text)
    conversation = conversation_for(seller, buyer, None, asin)
    return _post(user, conversation, Author.BUYER, f"【商品についての質問】{asin}", body)


def mark_no_reply_needed(message: Message, user: User | None) -> bool:
    """Mark one buyer message; False when it was already answered or marked (nothing changes)."""
    if message.author != Author.BUYER:
        return False
    return len(_mark("id = %s", [message.pk], user)) == 1


def mark_conversation_no_reply_needed(conversation: Conversation, user: User) -> int:
    """The reply form's checkbox: every buyer message still waiting in the conversation."""
    return len(_mark("conversation_id = %s AND author = 'buyer'", [conversation.pk], user))


def mark_many_no_reply_needed(seller: SellerAccount, message_ids: list[int], user: User) -> list[int]:
    """The list's one-click marks: the shop's buyer messages among ``message_ids`` that still
    wait; returns the IDs it marked (for undo)."""
    chosen = message_ids[:200]
    if not chosen:
        return []
    marks = ", ".join(["%s"] * len(chosen))
    return _mark(f"id IN ({marks}) AND seller_id = %s AND author = 'buyer'", [*chosen, seller.pk], user)


def undo_no_reply_needed(seller: SellerAccount, message_ids: list[int], user: User) -> int:
    """Takes back this person's marks on these messages, unless the shop has written in the
    conversation since (then it was answered after all)."""
    if not message_ids:
        return 0
    with transaction.atomic():
        # SQL: one UPDATE … RETURNING restores the marks and tells the tally what to add back
        restored = rows.fetchall(
            "UPDATE conversations_message SET needs_reply = %s, marked_no_reply_at = NULL, "
            "marked_no_reply_by_id = NULL "
            f"WHERE id IN ({', '.join(['%s'] * len(message_ids))}) "
            "AND seller_id = %s AND author = 'buyer' AND NOT needs_reply AND marked_no_reply_by_id = %s "
            "AND NOT EXISTS (SELECT 1 FROM conversations_message later "
            "  WHERE later.conversation_id = conversations_message.conversation_id "
            "  AND later.author = 'seller' AND later.created_at >= conversations_message.marked_no_reply_at) "
            f"RETURNING seller_id, {tally.epoch_sql('created_at')}",
            [True, *message_ids, seller.pk, user.pk],
        )
        for seller_id, arrived in restored:
            tally.received(seller_id, arrived, +1)
    return len(restored)


def _mark(which: str, params: list[object], user: User | None) -> list[int]:
    """Mark the waiting messages ``which`` selects (one statement) and return their IDs; a marked
    message leaves the response-time figures, so it leaves the tally in the same transaction."""
    with transaction.atomic():
        # SQL: one UPDATE … RETURNING marks the messages and tells the tally what to take out
        marked = rows.fetchall(
            "UPDATE conversations_message SET needs_reply = %s, marked_no_reply_at = %s, "
            f"marked_no_reply_by_id = %s WHERE {which} AND needs_reply "
            f"RETURNING id, seller_id, {tally.epoch_sql('created_at')}",
            [False, rows.db_value(timezone.now()), user.pk if user else None, *params],
        )
        for _, seller_id, arrived in marked:
            tally.received(seller_id, arrived, -1)
    return sorted(int(row[0]) for row in marked)
