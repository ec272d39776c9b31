"""``response.at_risk``: a buyer's message whose 24 hours end within MARKETMSG_AT_RISK_HOURS and
that still waits for an answer. Looked for now and then by the webhook sender; once per message
(the event's dedupe key), however often it looks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketmsg import rows
from marketmsg.policy.response import ON_TIME_SECONDS
from marketmsg.webhooks import events

_AT_RISK_SQL = (
    "SELECT id, conversation_id, seller_id, created_at FROM conversations_message "
    "WHERE author = 'buyer' AND needs_reply AND created_at > %s AND created_at <= %s ORDER BY id LIMIT 1000"
)


def look(now: datetime | None = None) -> int:
    """Write the events of the messages now at risk; returns how many messages were at risk."""
    now = now or timezone.now()
    expired = now - timedelta(seconds=ON_TIME_SECONDS)
    # SQL: the waiting messages by table name (webhooks sits below conversations, ADR 25)
    found = rows.fetchall(
        _AT_RISK_SQL,
        [rows.db_value(expired), rows.db_value(expired + timedelta(hours=settings.AT_RISK_HOURS))],
    )
    with transaction.atomic():
        for message_id, conversation_id, seller_id, created_at in found:
            written = created_at if isinstance(created_at, datetime) else datetime.fromisoformat(created_at)
            if written.tzinfo is None:
                written = written.replace(tzinfo=UTC)
            due = (written + timedelta(seconds=ON_TIME_SECONDS)).astimezone(UTC)
            events.response_at_risk(
                message_id, conversation_id, seller_id, due.isoformat().replace("+00:00", "Z")
            )
    return len(found)
