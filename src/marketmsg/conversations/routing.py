"""Who answers a buyer's message: the seller, or marketplace customer service (SPEC F9).

A message about an FBA order goes to customer service unless the shop has turned on FBA product
support; with it on, only product questions come to the seller, while returns, refunds and
delivery stay with customer service. MFN orders and questions before purchase always go to the
seller. The rule lives here once; ``post_message`` applies it to every channel.
"""

from __future__ import annotations

import re

from marketmsg import rows

# The topics (compose.TOPICS keys) that customer service answers even with product support on.
CUSTOMER_SERVICE_TOPICS = frozenset({"shipping", "return"})

# A mail has no topic field: its subject and text decide. Returns, refunds, exchanges, delivery.
_CUSTOMER_SERVICE_WORDS = re.compile(
    r"返品|返金|交換|配送|配達|届かない|届いていない|届きません|未着|発送状況|追跡番号|お届け"
    r"|\b(?:return|returns|refund|refunds|exchange|deliver(?:y|ed)?|shipping|shipment|tracking)\b"
    r"|not (?:yet )?arrived|hasn't arrived|has not arrived",
    re.IGNORECASE,
)


def topic_of(subject: str, text: str) -> str:
    """The topic of a message that came without one: "return" for customer-service words, else
    "product"."""
    return "return" if _CUSTOMER_SERVICE_WORDS.search(f"{subject}\n{text[:5000]}") else "product"


def to_customer_service(fulfillment: str, product_support: bool, topic: str) -> bool:
    """Pure: the rule itself."""
    if fulfillment != "FBA":
        return False
    return not product_support or topic in CUSTOMER_SERVICE_TOPICS


def order_facts(order_id: int | None) -> tuple[str, bool]:
    """The order's fulfilment channel and its shop's product-support setting, in one query."""
    if order_id is None:
        return "", False
    # SQL: asked for every buyer mail; the ORM's mail-path reads cost the gateway 60 % (ADR 24)
    found = rows.fetchall(
        "SELECT o.fulfillment, s.fba_product_support FROM orders_order o "
        "JOIN accounts_selleraccount s ON s.id = o.seller_id WHERE o.id = %s",
        [order_id],
    )
    return (str(found[0][0]), bool(found[0][1])) if found else ("", False)


def decide(order_id: int | None, topic: str, subject: str, text: str) -> bool:
    """Whether a buyer's message about this order goes to customer service."""
    fulfillment, product_support = order_facts(order_id)
    if fulfillment != "FBA":
        return False
    return to_customer_service(fulfillment, product_support, topic or topic_of(subject, text))
