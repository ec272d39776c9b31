"""Writing webhook events into the outbox, inside the caller's transaction.

Each function here is called where the change happens (post_message, the delivery worker, the
sender lists, claims), so the event commits or rolls back with it. One INSERT, internal IDs only:
what a receiver sees is rendered when it is sent (webhooks.payloads).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.utils import timezone

from marketmsg import rows
from marketmsg.webhooks.models import Event

# A message's state (conversations.models.Message.State) and author → the event it makes.
_MESSAGE_EVENTS = {
    ("buyer", "relayed"): "message.received",
    ("seller", "relayed"): "message.sent",
    ("buyer", "blocked"): "message.blocked",
    ("seller", "blocked"): "message.blocked",
    ("seller", "held"): "message.held",
    ("buyer", "cs_queue"): "message.routed_to_customer_service",
}


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def emit(event_type: str, ordering_key: str, data: dict[str, Any], dedupe_key: str | None = None) -> None:
    values = {
        "event_id": new_event_id(),
        "type": event_type,
        "ordering_key": ordering_key,
        "data": data,
        "created_at": timezone.now(),
        "fanned_out": False,
        "dedupe_key": dedupe_key,
    }
    if dedupe_key is None:
        # SQL: the outbox row, written in every message's transaction (the mail path's inserts, ADR 24)
        rows.insert(Event, **values)
    else:  # once per key, without a savepoint: a clash writes nothing
        # SQL: once per key without a savepoint: a clash writes nothing
        rows.save_new_unless_clash(Event(**values))


def conversation_key(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def message_event(
    message_id: int,
    conversation_id: int,
    seller_id: int,
    author: str,
    state: str,
    channel: str,
    rules: str = "",
    event_type: str | None = None,
) -> None:
    """The event a newly stored (or released) message makes, if any."""
    event_type = event_type or _MESSAGE_EVENTS.get((author, state))
    if event_type is None:
        return
    data: dict[str, Any] = {
        "message": message_id,
        "conversation": conversation_id,
        "seller": seller_id,
        "author": author,
        "state": state,
        "channel": channel,
    }
    if rules:
        data["rules"] = rules.split()
    emit(event_type, conversation_key(conversation_id), data)


def delivery_failed(delivery_id: int, message_id: int) -> None:
    # SQL: webhooks sits below the rooms whose events it carries and reads their tables by name (ADR 25)
    found = rows.fetchall(
        "SELECT conversation_id, seller_id, author FROM conversations_message WHERE id = %s", [message_id]
    )
    if not found:
        return
    conversation_id, seller_id, author = found[0]
    emit(
        "delivery.failed",
        conversation_key(conversation_id),
        {
            "delivery": delivery_id,
            "message": message_id,
            "conversation": conversation_id,
            "seller": seller_id,
            "author": author,
        },
    )


def sender_pending(seller_id: int, sender_id: int) -> None:
    emit("sender.pending", f"seller:{seller_id}", {"seller": seller_id, "sender": sender_id})


def claim_opened(claim_id: int, order_pk: int, seller_id: int) -> None:
    emit(
        "order.claim_opened",
        f"order:{order_pk}",
        {"claim": claim_id, "order": order_pk, "seller": seller_id},
    )


def response_at_risk(message_id: int, conversation_id: int, seller_id: int, due_at: str) -> None:
    emit(
        "response.at_risk",
        conversation_key(conversation_id),
        {"message": message_id, "conversation": conversation_id, "seller": seller_id, "due_at": due_at},
        dedupe_key=f"response.at_risk:{message_id}",
    )
