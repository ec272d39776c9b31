"""The seller message center's lists: which messages a view shows, from its URL parameters.

A view is a ``ListQuery`` (box, search, period, status, attachments, page size, page), parsed
from the query string so that every view can be bookmarked, and ``messages_for`` turns it into one
database query. Search looks at order IDs, ASINs and e-mail addresses only, never at subjects
or bodies (SPEC F2). Marketplace notices are never listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from marketmsg.accounts.models import SellerAccount
from marketmsg.addresses.models import RelayAddress
from marketmsg.conversations.models import Conversation, Message
from marketmsg.orders import identifiers
from marketmsg.orders.models import Order, OrderItem

PAGE_SIZES = (10, 25, 50, 100)
PERIODS = ("", "today", "7", "30", "90", "custom")

Box = Literal["received", "sent"]


@dataclass(frozen=True)
class ListQuery:
    box: Box = "received"
    search: str = ""
    period: str = ""
    date_from: date | None = None
    date_to: date | None = None
    awaiting_reply: bool = True  # the default view: received messages that still need a reply
    attachments_only: bool = False
    # "time_left": the oldest first, which for messages awaiting a reply is the least time left.
    sort: str = ""
    per_page: int = 25
    page: int = 1
    errors: tuple[str, ...] = field(default=())

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ListQuery:
        """Read a view from its URL; a value out of range falls back to the default, with a note
        (in Japanese and English) of what was ignored."""
        errors: list[str] = []
        box: Box = "sent" if params.get("box") == "sent" else "received"
        period = params.get("period", "")
        if period not in PERIODS:
            errors.append(_("The period was not understood and was ignored."))
            period = ""
        date_from = parse_day(params.get("from", ""), errors) if period == "custom" else None
        date_to = parse_day(params.get("to", ""), errors) if period == "custom" else None
        if date_from and date_to and date_from > date_to:
            errors.append(_("The start date is after the end date, so the dates were ignored."))
            date_from = date_to = None
        per_page = _int(params.get("per_page", "25"), 25)
        if per_page not in PAGE_SIZES:
            per_page = 25
        # The filter form and the tabs always send the box, and with it the status they want; a URL
        # without a box (the bare address, or only a page number or size) is the default view.
        awaiting = params.get("status", "" if "box" in params else "awaiting") == "awaiting"
        # A search (the search button, or Enter in its box) looks in every state: the collapsed
        # "awaiting a reply only" box must not hide a replied order. Narrowing afterwards still works.
        if params.get("searching") and params.get("q", "").strip():
            awaiting = False
        return cls(
            box=box,
            search=params.get("q", "").strip()[:320],
            period=period,
            date_from=date_from,
            date_to=date_to,
            awaiting_reply=awaiting and box == "received",
            attachments_only=params.get("attachments") == "1",
            sort="time_left" if params.get("sort") == "time_left" else "",
            per_page=per_page,
            page=max(1, _int(params.get("page", "1"), 1)),
            errors=tuple(errors),
        )

    def since_until(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The period as aware datetimes in the current time zone (the end is exclusive)."""
        today = timezone.localtime(now).date()
        if self.period == "today":
            return start_of(today), None
        if self.period in ("7", "30", "90"):
            return now - timedelta(days=int(self.period)), None
        if self.period == "custom":
            return (
                start_of(self.date_from) if self.date_from else None,
                start_of(self.date_to + timedelta(days=1)) if self.date_to else None,
            )
        return None, None


def start_of(day: date) -> datetime:
    """Midnight at the start of ``day`` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def parse_day(text: str, errors: list[str]) -> date | None:
    """A YYYY-MM-DD date from a URL or form; a note in ``errors`` when it cannot be read."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(_("Could not read the date “%(text)s”. Use the form YYYY-MM-DD.") % {"text": text[:20]})
        return None


def messages_for(seller: SellerAccount, query: ListQuery, now: datetime | None = None) -> QuerySet[Message]:
    """The messages of ``seller`` that the view shows, newest first.

    Every view reads the message's own seller column through an index in time order (ADR 6); a
    search narrows it to the conversations that match, found through their own small indexes.
    """
    author = Message.Author.BUYER if query.box == "received" else Message.Author.SELLER
    # A search starts from the few conversations that match (each of them the seller's own);
    # without one, the seller's messages are read in time order from the seller's index.
    mine = _search(seller, query.search, author) if query.search else Q(seller=seller)
    messages = Message.objects.filter(mine, author=author)
    if query.box == "received":  # what marketplace customer service answers is not the seller's (F9)
        messages = messages.exclude(state=Message.State.CUSTOMER_SERVICE)
    if query.awaiting_reply:
        messages = messages.filter(needs_reply=True)
    if query.attachments_only:
        messages = messages.filter(has_attachments=True)
    since, until = query.since_until(now or timezone.now())
    if since is not None:
        messages = messages.filter(created_at__gte=since)
    if until is not None:
        messages = messages.filter(created_at__lt=until)
    # Only what a list row shows (bodies can be long and are never listed), from the message table
    # alone: joining the conversation, order, buyer and user here cost PostgreSQL more time to plan
    # than to run. ``row_facts`` fetches those for the rows of one page.
    if query.sort == "time_left":
        return messages.only(*LIST_FIELDS).order_by("created_at", "id")
    return messages.only(*LIST_FIELDS).order_by("-created_at", "-id")


LIST_FIELDS = (
    "id",
    "conversation_id",
    "seller_id",
    "author",
    "state",
    "subject",
    "has_attachments",
    "is_auto",
    "needs_reply",
    "marked_no_reply_at",
    "created_at",
)


@dataclass(frozen=True)
class ConversationFacts:
    buyer_name: str
    order_id: str  # the marketplace's order ID, '' when the conversation has no order
    asins: tuple[str, ...]


def row_facts(messages: list[Message]) -> dict[int, ConversationFacts]:
    """Buyer name, order ID and ASINs of each listed message's conversation: two queries a page."""
    rows = Conversation.objects.filter(id__in={m.conversation_id for m in messages}).values_list(
        "id", "asin", "order_id", "order__order_id", "buyer__user__name"
    )
    conversations = list(rows)
    items: dict[int, list[str]] = {}
    order_ids = {order_pk for _, _, order_pk, _, _ in conversations if order_pk}
    for order_pk, asin in (
        OrderItem.objects.filter(order_id__in=order_ids).order_by("id").values_list("order_id", "asin")
    ):
        items.setdefault(order_pk, []).append(asin)
    return {
        conversation_id: ConversationFacts(
            buyer_name=name,
            order_id=order_number or "",
            asins=(asin,) if asin else tuple(items.get(order_pk or 0, ())),
        )
        for conversation_id, asin, order_pk, order_number, name in conversations
    }


def _search(seller: SellerAccount, text: str, author: str) -> Q:
    """Order ID, ASIN or e-mail address; anything else matches nothing (subjects are not searched)."""
    if identifiers.is_order_id(text):
        order = Order.objects.filter(order_id=text, seller=seller).values_list("id", flat=True)
        return _in_conversations(seller, "order_id", order)
    asin = identifiers.product_id(text)
    if asin is not None:
        orders = OrderItem.objects.filter(asin=asin, order__seller=seller).values_list("order_id", flat=True)
        asked = Conversation.objects.filter(seller=seller, order__isnull=True, asin=asin)  # before purchase
        return _in_conversations(seller, "order_id", orders) | Q(
            conversation_id__in=list(asked.values_list("id", flat=True))
        )
    if "@" in text:
        address = text.lower()
        local, _, domain = address.rpartition("@")
        buyers = RelayAddress.objects.filter(
            seller=seller, side=RelayAddress.Side.BUYER, local_part=local, domain=domain
        ).values_list("buyer_id", flat=True)
        # The buyer's relay address finds the whole correspondence with that buyer; the seller's
        # own sending address finds what was written from it (only sent messages have one).
        found = _in_conversations(seller, "buyer_id", buyers)
        if author == Message.Author.SELLER:
            found |= Q(seller=seller, sender_email=address)
        return found
    return Q(pk__in=[])


# Above this many orders or conversations a search lets the database join instead of listing IDs.
LITERAL_IDS = 2000


def _in_conversations(seller: SellerAccount, column: str, values: QuerySet[Any, int]) -> Q:
    """Messages of the seller's conversations whose ``column`` (order or buyer) is in ``values``.

    The database is asked about one indexed column (an order's or a buyer's conversations are few)
    and the seller is checked here: with both in the query, SQLite without statistics walked the
    seller's thousands of conversations instead. The literal list of conversation IDs then makes it
    probe the messages' (conversation, time) index once per conversation instead of reading the
    seller's whole box. A best-selling ASIN with thousands of orders takes the subquery path.
    """
    keys = list(values[: LITERAL_IDS + 1])
    if len(keys) <= LITERAL_IDS:
        rows = Conversation.objects.filter(**{f"{column}__in": keys}).values_list("id", "seller_id")
        ids = [conversation_id for conversation_id, seller_id in rows if seller_id == seller.pk]
        if len(ids) <= LITERAL_IDS:
            return Q(conversation_id__in=ids)
    matching = Conversation.objects.filter(seller=seller, **{f"{column}__in": values}).values("id")
    return Q(conversation_id__in=matching)
