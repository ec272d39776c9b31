"""What a webhook receiver gets: the event's internal IDs turned into the marketplace's own IDs.

Rendered when the event is sent, from the outbox's internal IDs. Never a real address: a buyer
and a seller are named by the marketplace's IDs (and ours), a sender address by its row ID.
Bodies (subject and text) only for a subscription that asked for them.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from marketmsg import rows
from marketmsg.webhooks.models import Event, Subscription

_CONVERSATION_SQL = """
SELECT c.id, c.asin, c.buyer_id, b.external_id, c.seller_id, s.external_id, o.order_id
FROM conversations_conversation c
JOIN accounts_buyer b ON b.id = c.buyer_id
JOIN accounts_selleraccount s ON s.id = c.seller_id
LEFT JOIN orders_order o ON o.id = c.order_id
WHERE c.id = %s
"""


def _conversation(conversation_id: int) -> dict[str, Any]:
    # SQL: webhooks reads the rooms above it by table name, importing none of them (ADR 25)
    found = rows.fetchall(_CONVERSATION_SQL, [conversation_id])
    if not found:
        return {"conversation_id": conversation_id}
    cid, asin, buyer_id, buyer_ext, seller_id, seller_ext, order_id = found[0]
    return {
        "conversation_id": cid,
        "seller": {"id": seller_id, "external_id": seller_ext},
        "buyer": {"id": buyer_id, "external_id": buyer_ext},
        "order_id": order_id,
        "product_id": asin or None,
    }


def _seller(seller_id: int) -> dict[str, Any]:
    # SQL: as above: a table of a room above, by name
    found = rows.fetchall("SELECT external_id FROM accounts_selleraccount WHERE id = %s", [seller_id])
    return {"id": seller_id, "external_id": found[0][0] if found else None}


def _body(message_id: int) -> dict[str, Any]:
    # SQL: as above: a table of a room above, by name
    found = rows.fetchall("SELECT subject, text FROM conversations_message WHERE id = %s", [message_id])
    return {"subject": found[0][0], "text": found[0][1]} if found else {}


def data_of(event: Event, subscription: Subscription) -> dict[str, Any]:
    raw = event.data
    data: dict[str, Any] = {}
    if "conversation" in raw:
        data.update(_conversation(raw["conversation"]))
    elif "seller" in raw:
        data["seller"] = _seller(raw["seller"])
    if "message" in raw:
        data["message_id"] = raw["message"]
    for key in ("author", "state", "channel", "rules", "due_at"):
        if key in raw:
            data[key] = raw[key]
    if "delivery" in raw:
        data["delivery_id"] = raw["delivery"]
    if "sender" in raw:
        data["sender_id"] = raw["sender"]  # the address itself stays with the seller
    if "claim" in raw:
        data["claim_id"] = raw["claim"]
        # SQL: as above: a table of a room above, by name
        found = rows.fetchall("SELECT order_id FROM orders_order WHERE id = %s", [raw["order"]])
        data["order_id"] = found[0][0] if found else None
    if subscription.include_bodies and "message" in raw and event.type.startswith("message."):
        data.update(_body(raw["message"]))
    return data


def body_of(event: Event, subscription: Subscription) -> bytes:
    """The JSON body, as the Standard Webhooks specification lays it out (type, timestamp, data)."""
    payload = {
        "type": event.type,
        "timestamp": event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "event_id": event.event_id,
        "data": data_of(event, subscription),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
