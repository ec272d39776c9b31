"""Finding conversations across every seller (SPEC F11): by order ID, ASIN, a relay address, a
real address (buyer, seller user or sender address), or a seller's name or ID."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from marketmsg.conversations.models import Conversation
from marketmsg.orders import identifiers

LIMIT = 100


def find(query: str) -> tuple[str, QuerySet[Conversation]]:
    """(what the query was read as, the conversations), newest first."""
    text = query.strip()
    found = Conversation.objects.none()
    kind = "seller"
    asin = identifiers.product_id(text)
    if identifiers.is_order_id(text):
        kind, found = "order", Conversation.objects.filter(order__order_id=text)
    elif asin is not None:
        kind = "asin"
        found = Conversation.objects.filter(Q(asin=asin) | Q(order__items__asin=asin))
    elif "@" in text:
        email = text.lower()
        relay = addresses.find_relay_address(email)
        if relay is not None:
            kind = "relay"
            found = Conversation.objects.filter(buyer_id=relay.buyer_id, seller_id=relay.seller_id)
        else:
            kind = "address"
            sellers = SenderAddress.objects.filter(email=email).values("account_id")
            found = Conversation.objects.filter(
                Q(buyer__user__email__iexact=email)
                | Q(seller__members__user__email__iexact=email)
                | Q(seller_id__in=sellers)
            )
    elif text:
        found = Conversation.objects.filter(
            Q(seller__name__icontains=text) | (Q(seller_id=int(text)) if text.isdigit() else Q())
        )
    return kind, (
        found.distinct()
        .select_related("seller", "buyer__user", "order")
        .annotate(messages_count=Count("messages", distinct=True))
        .order_by("-created_at", "-id")[:LIMIT]
    )
