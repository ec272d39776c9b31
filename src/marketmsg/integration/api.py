"""The operator API (marketplace → marketmsg) at /api/operator/v1/: OpenAPI at
/api/operator/v1/openapi.json, docs at /api/operator/v1/docs.

Machine to machine: an operator credential (``marketmsg operator-credential``, or the operator
admin) with scopes, never a seller's token. Batches of up to 5,000 records answer per record
(integration.upsert); errors are RFC 9457 problem details, as in the seller API.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from marketmsg.apikit.framework import LocalSwagger, MarketmsgAPI, ReadableJSON, handle_errors
from marketmsg.apikit.problems import Problem
from marketmsg.integration import erasures, notices, reading, subscriptions
from marketmsg.integration.auth import OperatorAuth, needs
from marketmsg.integration.schemas import ERRORS, BatchIn, BatchOut, NoticeIn, NoticeOut
from marketmsg.integration.upsert import Upserter

MAX_RECORDS = 5000


router = Router()

_BATCH_HELP = (
    "Up to {max} records a request; each is answered on its own (created, updated, unchanged, or "
    "refused with the field and why) and a refused record changes nothing. Sending the same "
    "record again is harmless: it is unchanged."
)


def _batch(request: HttpRequest, kind: str, body: BatchIn) -> dict[str, Any]:
    needs(request, "catalog")
    if len(body.records) > MAX_RECORDS:
        raise Problem(
            413,
            "batch_too_large",
            "Too many records",
            f"{len(body.records)} records in one request; send at most {MAX_RECORDS} a request.",
        )
    outcomes = Upserter().apply(kind, body.records)
    counts = Counter(o.result for o in outcomes)
    return {
        "counts": {k: counts.get(k, 0) for k in ("created", "updated", "unchanged", "refused")},
        "results": [o.as_dict() for o in outcomes],
    }


@router.post(
    "/sellers", response={200: BatchOut, **ERRORS}, tags=["catalog"], summary="Upsert seller accounts"
)
def upsert_sellers(request: HttpRequest, body: BatchIn) -> dict[str, Any]:
    """Sellers keyed by `external_id`: `{"external_id", "name", "users": [{"email", "name",
    "language": "ja"|"en", "owner": true}], "notification_emails": [...],
    "fba_product_support": false}`. Exactly one user is the owner. A person's address is theirs
    alone: a seller user may also be a buyer (the same address), never a user of two shops."""
    return _batch(request, "seller", body)


@router.post("/buyers", response={200: BatchOut, **ERRORS}, tags=["catalog"], summary="Upsert buyers")
def upsert_buyers(request: HttpRequest, body: BatchIn) -> dict[str, Any]:
    """Buyers keyed by `external_id`: `{"external_id", "email", "name", "language",
    "is_mobile"}` (`is_mobile` defaults to what the address's domain says). A new address keeps
    every relay address the buyer already has."""
    return _batch(request, "buyer", body)


@router.post("/products", response={200: BatchOut, **ERRORS}, tags=["catalog"], summary="Upsert products")
def upsert_products(request: HttpRequest, body: BatchIn) -> dict[str, Any]:
    """Products keyed by `product_id` (MARKETMSG_PRODUCT_ID_PATTERN): `{"product_id", "title"}`."""
    return _batch(request, "product", body)


@router.post("/orders", response={200: BatchOut, **ERRORS}, tags=["catalog"], summary="Upsert orders")
def upsert_orders(request: HttpRequest, body: BatchIn) -> dict[str, Any]:
    """Orders keyed by `order_id` (MARKETMSG_ORDER_ID_PATTERN): `{"order_id", "seller": seller
    external_id, "buyer": buyer external_id, "ordered_at", "status":
    placed|shipped|delivered|cancelled|returned, "shipped_at", "delivered_at", "cancelled_at",
    "returned_at", "fulfillment": MFN|FBA, "tracking": {"carrier", "number"}, "items":
    [{"product_id", "title", "quantity"}]}`. Times are ISO 8601 with a zone. Upsert the seller and
    the buyer first."""
    return _batch(request, "order", body)


for _view in (upsert_sellers, upsert_buyers, upsert_products, upsert_orders):
    _view.__doc__ = (_view.__doc__ or "") + "\n\n" + _BATCH_HELP.format(max=MAX_RECORDS)


@router.post(
    "/orders/{order_id}/notices",
    response={201: NoticeOut, **ERRORS},
    tags=["conversations"],
    summary="Post as the marketplace",
)
def post_notice(request: HttpRequest, order_id: str, body: NoticeIn) -> Status:
    """The marketplace writes in the order's conversation: `kind` `notice` (an automatic notice
    from no-reply, never answered) or `customer_service` (from customer service's relay identity;
    the buyer's reply comes back to customer service). To the buyer or the seller. Never listed
    in the seller's message lists."""
    needs(request, "messages")
    return Status(201, notices.post(order_id, body))


@router.get(
    "/sellers/{external_id}",
    response={200: dict[str, Any], **ERRORS},
    tags=["catalog"],
    summary="One seller, as stored",
)
def get_seller(request: HttpRequest, external_id: str) -> dict[str, Any]:
    needs(request, "read")
    return reading.seller(external_id)


@router.get(
    "/buyers/{external_id}",
    response={200: dict[str, Any], **ERRORS},
    tags=["catalog"],
    summary="One buyer, as stored",
)
def get_buyer(request: HttpRequest, external_id: str) -> dict[str, Any]:
    needs(request, "read")
    return reading.buyer(external_id)


@router.get(
    "/orders/{order_id}",
    response={200: dict[str, Any], **ERRORS},
    tags=["catalog"],
    summary="One order, as stored",
)
def get_order(request: HttpRequest, order_id: str) -> dict[str, Any]:
    needs(request, "read")
    return reading.order(order_id)


router.add_router("/webhooks", subscriptions.router)
router.add_router("", erasures.router)

api = MarketmsgAPI(
    renderer=ReadableJSON(),
    title="marketmsg operator API",
    version="1",
    description=(
        "The marketplace's own systems: upsert sellers, buyers, products and orders; post as the "
        "marketplace; manage webhook subscriptions. Authenticate with `Authorization: Bearer "
        "<operator credential>` (`marketmsg operator-credential create`). Errors are RFC 9457 "
        "problem details."
    ),
    auth=OperatorAuth(),
    docs=LocalSwagger(),
    urls_namespace="api-operator-v1",
)
api.add_router("", router)
handle_errors(
    api,
    "Send a valid operator credential as 'Authorization: Bearer <credential>'. "
    "Issue one with: marketmsg operator-credential create --name <system> --scope catalog",
)
