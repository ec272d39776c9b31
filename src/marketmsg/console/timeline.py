"""A conversation's full record for staff (SPEC F11): every message whatever became of it, each
delivery with every SMTP answer, removed attachments, the guideline rules and authentication."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from marketmsg.conversations.models import Attachment, Conversation, Message
from marketmsg.delivery.models import Delivery, DeliveryAttempt

State = Message.State

# (css, icon, label) of what became of a message.
FATES: dict[str, tuple[str, str, Any]] = {
    State.RELAYED: ("ok", "✔", _("Relayed")),
    State.HELD: ("warn", "⏸", _("Held")),
    State.BLOCKED: ("bad", "⛔", _("Blocked by the guidelines")),
    State.CUSTOMER_SERVICE: ("quiet", "🎧", _("Routed to customer service")),
    State.SUPPRESSED: ("quiet", "🤖", _("Auto-reply suppressed")),
    State.WITHHELD: ("bad", "🚫", _("Not delivered (sender blocked)")),
}


@dataclass
class Entry:
    message: Message
    fate: tuple[str, str, Any]
    deliveries: list[Delivery] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(d.state in (Delivery.State.FAILED, Delivery.State.BOUNCED) for d in self.deliveries)


def timeline(conversation: Conversation) -> list[Entry]:
    """Oldest first, every message of every author and state."""
    messages = (
        conversation.messages.order_by("created_at", "id")
        .select_related("sender_user", "raw")
        .defer("raw__data")  # rows from before the blob store hold the whole mail
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.order_by("id").prefetch_related(
                    Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("at", "id"))
                ),
            ),
            Prefetch("attachments", queryset=Attachment.objects.order_by("id").select_related("removed_by")),
        )
    )
    entries = []
    for message in messages:
        entries.append(
            Entry(
                message=message,
                fate=FATES.get(State(message.state), ("quiet", "•", str(message.state))),
                deliveries=list(message.deliveries.all()),
                attachments=list(message.attachments.all()),
                rules=message.guideline_rules.split(),
            )
        )
    return entries


def summary(entries: list[Entry]) -> dict[str, Any]:
    return {
        "messages": len(entries),
        "failed": sum(1 for e in entries if e.failed),
        "blocked": sum(1 for e in entries if e.message.state == State.BLOCKED),
        "removed_files": sum(1 for e in entries for a in e.attachments if a.removed_at),
    }
