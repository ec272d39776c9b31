"""What a conversation page shows to one side: the messages in order, the order's items."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.html import strip_tags

from marketmsg.accounts.models import Buyer
from marketmsg.addresses import services as addresses
from marketmsg.conversations import urgency
from marketmsg.conversations.errors import FormProblem
from marketmsg.conversations.models import Conversation, Message
from marketmsg.delivery import status as delivery_status
from marketmsg.orders.models import OrderItem
from marketmsg.web.guideline_views import marked_body

Author = Message.Author


# What a buyer sees of a conversation: their own messages and what the seller's were actually sent
# (not held, blocked or withheld ones). Pages and downloads both ask this.
SHOWN_TO_BUYER = Q(author=Author.BUYER) | Q(author=Author.SELLER, state=Message.State.RELAYED)
# ...and on the buyer's pages also customer service's answers (never the automatic notices).
ON_BUYER_PAGES = SHOWN_TO_BUYER | Q(author=Author.MARKETPLACE, is_auto=False)


def buyer_conversations(buyer: Buyer) -> QuerySet[Conversation]:
    """The buyer's conversations that hold something for them, latest first. A conversation that a
    stranger's held or withheld mail started holds nothing the buyer may see: it is not listed."""
    visible = Message.objects.filter(ON_BUYER_PAGES, conversation=OuterRef("pk"))
    newest = visible.order_by("-created_at", "-id")
    from_them = visible.exclude(author=Author.BUYER).filter(
        Q(created_at__gt=OuterRef("buyer_read_at")) | Q(conversation__buyer_read_at__isnull=True)
    )
    return (
        Conversation.objects.filter(buyer=buyer)
        .filter(Exists(visible))
        .annotate(
            latest=Subquery(newest.values("created_at")[:1]),
            latest_subject=Subquery(newest.values("subject")[:1]),
            latest_author=Subquery(newest.values("author")[:1]),
            snippet=Subquery(newest.annotate(start=Substr("text", 1, SNIPPET)).values("start")[:1]),
            unread=Exists(from_them),
        )
        .select_related("seller", "order")
        .order_by("-latest", "-id")
    )


SNIPPET = 90  # characters of the latest message in the buyer's list


def shown_to_buyer(message: Message) -> bool:
    return message.author == Author.BUYER or (
        message.author == Author.SELLER and message.state == Message.State.RELAYED
    )


# A conversation page shows the latest messages; older ones come with "show all".
SHOWN = 100


def visible_messages(conversation: Conversation, reader: str, limit: int | None = SHOWN) -> list[Any]:
    """Oldest first. Automatic marketplace notices are never listed; a buyer sees only what was
    actually sent to them, and customer service's answers to them (SPEC F9, F11)."""
    if reader == Author.BUYER:
        found = conversation.messages.filter(ON_BUYER_PAGES)
    else:
        found = conversation.messages.exclude(author=Author.MARKETPLACE)
    newest_first = (
        found.select_related("sender_user").prefetch_related("attachments").order_by("-created_at", "-id")
    )
    shown = list(newest_first if limit is None else newest_first[: limit + 1])
    shown.reverse()
    delivery_status.attach(shown)
    return shown


def body_of(message: Message) -> str:
    """Plain text to show; an HTML-only message is shown as its text (never as markup)."""
    return message.text or strip_tags(message.html)


def context(
    conversation: Conversation,
    reader: str,
    problem: FormProblem | None = None,
    draft: str = "",
    show_all: bool = False,
) -> dict[str, Any]:
    shown = visible_messages(conversation, reader, None if show_all else SHOWN)
    earlier = len(shown) > SHOWN and not show_all
    if earlier:
        shown = shown[1:]
    for message in shown:
        message.body = body_of(message)  # type: ignore[attr-defined]
        message.mine = message.author == reader  # type: ignore[attr-defined]
        message.shown_files = sorted(message.attachments.all(), key=lambda a: a.pk)  # type: ignore[attr-defined]
        if message.state == Message.State.BLOCKED and reader == Author.SELLER:
            message.marked = marked_body(message)  # type: ignore[attr-defined]
    pair = addresses.relay_pair(conversation.buyer, conversation.seller)
    other = pair.buyer_address if reader == Author.SELLER else pair.seller_address
    items = list(conversation.order.items.order_by("id")) if conversation.order is not None else []
    product = ""
    if conversation.asin:  # a question before purchase: name the product as the shop's orders do
        product = (
            OrderItem.objects.filter(asin=conversation.asin).values_list("title", flat=True).first() or ""
        )
    waiting = (
        conversation.messages.filter(needs_reply=True)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return {
        "conversation": conversation,
        "thread": shown,
        "items": items,
        "product": product,
        "awaiting": waiting is not None,
        "time_left": urgency.time_left(waiting, timezone.now())
        if waiting and reader == Author.SELLER
        else None,
        "earlier": earlier,
        "shown": SHOWN,
        "problem": problem,
        "draft": draft if problem else "",
        "reader": reader,
        # The other side as this reader knows them: mail to it reaches them through the relay.
        "other_relay": other.address,
    }
