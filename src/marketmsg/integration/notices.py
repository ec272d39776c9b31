"""The marketplace writes into an order's conversation (operator API): a notice or an answer from
customer service. Through post_message like every other message, so it is stored, threaded and
relayed the same way; marketplace messages stay out of the seller's message lists."""

from __future__ import annotations

from typing import Any

from marketmsg.apikit.problems import Problem
from marketmsg.conversations import services
from marketmsg.conversations.drafts import Draft
from marketmsg.conversations.models import Message
from marketmsg.integration.schemas import NoticeIn
from marketmsg.orders.models import Order


def post(order_id: str, body: NoticeIn) -> dict[str, Any]:
    order = Order.objects.filter(order_id=order_id).select_related("seller", "buyer__user").first()
    if order is None:
        raise Problem(404, "not_found", "Not found", f"No order {order_id}. Upsert it first (POST /orders).")
    if body.kind == "customer_service" and body.to != "buyer":
        raise Problem(
            422,
            "invalid_notice",
            "Not posted",
            "Customer service answers buyers only; write to the seller with kind 'notice'.",
            field="to",
        )
    conversation = services.conversation_for(order.seller, order.buyer, order)
    recipients = [order.buyer.email] if body.to == "buyer" else order.seller.notification_addresses()
    message = services.post_message(
        Draft(
            seller=order.seller,
            buyer=order.buyer,
            author=Message.Author.MARKETPLACE,
            channel=Message.Channel.API,
            subject=body.subject,
            text=body.text,
            conversation=conversation,
            order=order,
            is_auto=body.kind == "notice",
            recipients=recipients,
        )
    )
    return {"message_id": message.pk, "conversation_id": conversation.pk, "created_at": message.created_at}
