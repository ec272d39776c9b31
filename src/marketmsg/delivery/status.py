"""What became of a message's mail (SPEC §3): one word per message for the people who wrote it.

A message has one delivery per real mailbox (a buyer's message reaches each of the seller's
notification addresses). The writer wants one answer: did it arrive, is it still trying (and
when next), or did it fail. ``summarize`` is that rule, pure; ``attach`` reads the deliveries of
a page of messages in one query and hangs the answer on each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from marketmsg.delivery.models import Delivery

State = Delivery.State


class Kind(StrEnum):
    NONE = ""  # no mail was sent for it (held, blocked, customer service, web-only)
    SENDING = "sending"  # queued, not tried yet
    RETRYING = "retrying"  # tried, the next hop said "later": ``next_try`` says when we try again
    DELIVERED = "delivered"  # the recipient's mail server accepted it
    FAILED = "failed"  # given up or refused for good; the writer was sent a notice


@dataclass(frozen=True)
class DeliveryStatus:
    kind: Kind
    next_try: datetime | None = None
    # Of several mailboxes (a seller's notification addresses), how many accepted and how many in all.
    delivered: int = 0
    total: int = 0


NOTHING = DeliveryStatus(Kind.NONE)


def summarize(deliveries: Iterable[tuple[str, datetime | None, int]]) -> DeliveryStatus:
    """One status from (state, next attempt, attempts) of each delivery of a message.

    Reached by any mailbox counts as delivered: the reader has it. Otherwise the writer hears the
    most hopeful truth: still being tried beats failed, and a retry shows the earliest next try.
    """
    found = list(deliveries)
    counted = [d for d in found if d[0] not in (State.HELD, State.CANCELLED)]
    if not counted:
        return NOTHING
    delivered = sum(1 for state, _, _ in counted if state == State.DELIVERED)
    total = len(counted)
    if delivered:
        return DeliveryStatus(Kind.DELIVERED, None, delivered, total)
    retrying = [
        at
        for state, at, attempts in counted
        if state == State.DEFERRED or (state == State.PENDING and attempts)
    ]
    if retrying:
        nexts = [at for at in retrying if at is not None]
        return DeliveryStatus(Kind.RETRYING, min(nexts) if nexts else None, 0, total)
    if any(state == State.PENDING for state, _, _ in counted):
        return DeliveryStatus(Kind.SENDING, None, 0, total)
    return DeliveryStatus(Kind.FAILED, None, 0, total)


def of_messages(message_ids: Sequence[int]) -> dict[int, DeliveryStatus]:
    """The status of each message, from one query over their deliveries."""
    grouped: dict[int, list[tuple[str, datetime | None, int]]] = {}
    if message_ids:
        for message_id, state, next_at, attempts in Delivery.objects.filter(
            message_id__in=list(message_ids)
        ).values_list("message_id", "state", "next_attempt_at", "attempts"):
            grouped.setdefault(message_id, []).append((state, next_at, attempts))
    return {message_id: summarize(grouped.get(message_id, ())) for message_id in message_ids}


def attach(messages: Sequence[Any]) -> None:
    """Set ``delivery_status`` on each message of a page (what the badges read)."""
    found = of_messages([m.pk for m in messages])
    for message in messages:
        message.delivery_status = found[message.pk]
