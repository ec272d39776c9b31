"""Writing the audit log (SPEC F11): one entry per staff look or action, never changed."""

from __future__ import annotations

from marketmsg.accounts.models import User
from marketmsg.console.models import AuditEntry
from marketmsg.orders.models import Claim

Action = AuditEntry.Action


def record(
    staff: User,
    action: str,
    *,
    claim: Claim | None = None,
    reason: str = "",
    conversation_id: int | None = None,
    message_id: int | None = None,
    attachment_id: int | None = None,
    detail: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        staff=staff,
        action=action,
        claim=claim,
        reason=reason[:300],
        conversation_id=conversation_id,
        message_id=message_id,
        attachment_id=attachment_id,
        detail=detail[:500],
    )
