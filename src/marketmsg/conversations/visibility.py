"""What each side may see of a conversation, for every channel that shows one: the buyer's pages
and downloads, the seller's pages and the API. Kept with the conversations (the domain) so that the
web and the API both read it and neither leans on the other."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr
from django.utils.html import strip_tags

from marketmsg.accounts.models import Buyer
from marketmsg.conversations.models import Conversation, Message
from marketmsg.delivery import status as delivery_status

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
