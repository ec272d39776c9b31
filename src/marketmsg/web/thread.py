"""What a conversation page shows to one side: the messages in order, the order's items."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef
from django.utils.html import strip_tags

from marketmsg.addresses import services as addresses
from marketmsg.conversations.compose import FormProblem
from marketmsg.conversations.models import Conversation, Message
from marketmsg.delivery.models import Delivery
from marketmsg.orders.models import OrderItem

Author = Message.Author


def visible_messages(conversation: Conversation, reader: str) -> list[Message]:
    """Marketplace notices are never listed; a buyer sees only what was actually sent to them."""
    found = conversation.messages.exclude(author=Author.MARKETPLACE)
    if reader == Author.BUYER:
        found = found.filter(author=Author.BUYER) | found.filter(
            author=Author.SELLER, state=Message.State.RELAYED
        )
    failed = Delivery.objects.filter(
        message=OuterRef("pk"), state__in=[Delivery.State.FAILED, Delivery.State.BOUNCED]
    )
    return list(
        found.annotate(delivery_failed=Exists(failed))
        .select_related("sender_user")
        .order_by("created_at", "id")
    )


def body_of(message: Message) -> str:
    """Plain text to show; an HTML-only message is shown as its text (never as markup)."""
    return message.text or strip_tags(message.html)


def context(
    conversation: Conversation, reader: str, problem: FormProblem | None = None, draft: str = ""
) -> dict[str, Any]:
    shown = visible_messages(conversation, reader)
    for message in shown:
        message.body = body_of(message)  # type: ignore[attr-defined]
        message.mine = message.author == reader  # type: ignore[attr-defined]
    pair = addresses.relay_pair(conversation.buyer, conversation.seller)
    other = pair.buyer_address if reader == Author.SELLER else pair.seller_address
    items = list(conversation.order.items.order_by("id")) if conversation.order is not None else []
    product = ""
    if conversation.asin:  # a question before purchase: name the product as the shop's orders do
        product = (
            OrderItem.objects.filter(asin=conversation.asin).values_list("title", flat=True).first() or ""
        )
    return {
        "conversation": conversation,
        "thread": shown,
        "items": items,
        "product": product,
        "awaiting": any(m.needs_reply for m in shown),
        "problem": problem,
        "draft": draft if problem else "",
        "reader": reader,
        # The other side as this reader knows them: mail to it reaches them through the relay.
        "other_relay": other.address,
    }
