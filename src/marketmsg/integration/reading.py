"""Records as stored, for the operator API's GET endpoints (in the same shape they are sent)."""

from __future__ import annotations

from typing import Any

from marketmsg.accounts.models import Buyer, SellerAccount
from marketmsg.apikit.problems import Problem
from marketmsg.orders.models import Order


def _missing(what: str, key: str) -> Problem:
    return Problem(404, "not_found", "Not found", f"No {what} {key!r}. Upsert it first.")


def seller(external_id: str) -> dict[str, Any]:
    found = SellerAccount.objects.filter(external_id=external_id).first()
    if found is None:
        raise _missing("seller", external_id)
    members = found.members.select_related("user").order_by("-is_owner", "id")
    return {
        "id": found.pk,
        "external_id": found.external_id,
        "name": found.name,
        "users": [
            {
                "email": m.user.email,
                "name": m.user.name,
                "language": m.user.language,
                "owner": m.is_owner,
                "external_id": m.user.external_id,
            }
            for m in members
        ],
        "notification_emails": [a for a in found.notification_emails.split(",") if a],
        "fba_product_support": found.fba_product_support,
    }


def buyer(external_id: str) -> dict[str, Any]:
    found = Buyer.objects.filter(external_id=external_id).select_related("user").first()
    if found is None:
        raise _missing("buyer", external_id)
    user = found.user
    return {
        "id": found.pk,
        "external_id": found.external_id,
        "email": user.email,
        "name": user.name,
        "language": user.language,
        "is_mobile": found.is_mobile,
        "erased_at": user.erased_at.isoformat() if user.erased_at else None,
    }


def order(order_id: str) -> dict[str, Any]:
    found = Order.objects.filter(order_id=order_id).select_related("seller", "buyer").first()
    if found is None:
        raise _missing("order", order_id)
    times = ("ordered_at", "shipped_at", "delivered_at", "cancelled_at", "returned_at")
    return {
        "id": found.pk,
        "order_id": found.order_id,
        "seller": found.seller.external_id,
        "buyer": found.buyer.external_id,
        "status": found.status,
        "fulfillment": found.fulfillment,
        **{name: getattr(found, name) for name in times},
        "tracking": {"carrier": found.tracking_carrier, "number": found.tracking_number},
        "items": [
            {"product_id": i.asin, "title": i.title, "quantity": i.quantity}
            for i in found.items.order_by("id")
        ],
    }
