"""What a conversation page shows to one side: the messages in order, the order's items."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from marketmsg.addresses import services as addresses
from marketmsg.conversations.errors import FormProblem
from marketmsg.conversations.models import Conversation, Message
from marketmsg.conversations.visibility import (
    SHOWN,
    body_of,
    visible_messages,
)
from marketmsg.metrics import urgency
from marketmsg.orders.models import OrderItem
from marketmsg.web.guideline_views import marked_body

Author = Message.Author


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
