"""The delivery worker: claim due deliveries, render, send, record, retry with back-off.

The Delivery table is the queue. A worker claims a row with a conditional UPDATE that sets a
lease; only the worker whose UPDATE matched may send it, so several workers (on several machines)
never send the same delivery twice while its lease lasts. A worker that dies leaves its lease to
expire; the row is then claimed again (the only way a message can go out twice is a crash between
the smarthost's 250 and our commit).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from marketmsg import observability, rows
from marketmsg.conversations import stored
from marketmsg.delivery.models import Delivery, DeliveryAttempt
from marketmsg.mail.render import LeakDetected
from marketmsg.relay import account_mail
from marketmsg.relay.notices import notify_failure
from marketmsg.relay.outbound import render_delivery
from marketmsg.relay.sending import Outcome, SendResult, SmtpSession, next_attempt_delay
from marketmsg.webhooks import events

log = logging.getLogger(__name__)
OPEN = [Delivery.State.PENDING, Delivery.State.DEFERRED]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"[:64]


# One statement claims a batch: due, free (no lease, or one that expired), and not behind an
# earlier open delivery of the same conversation to the same mailbox, which keeps each mailbox's
# mail in the order it was written. The outer conditions are checked again on the row itself, so
# of two workers that chose the same rows only one gets each (PostgreSQL also skips rows another
# worker is claiming right now). Hand-written: the ORM version made ~3 queries per delivery.
# (A mailbox's later delivery is held back even while the earlier one is leased: order first.)
_CLAIM_SQL = """
UPDATE delivery_delivery SET lease_owner = %s, lease_until = %s
WHERE id IN (
    SELECT c.id FROM (
        SELECT d.id, d.recipient, d.next_attempt_at, m.conversation_id FROM delivery_delivery d
        JOIN conversations_message m ON m.id = d.message_id
        WHERE d.state IN (%s, %s) AND d.next_attempt_at <= %s
          AND (d.lease_until IS NULL OR d.lease_until < %s)
        ORDER BY d.next_attempt_at, d.id LIMIT %s{skip_locked}
    ) c
    WHERE NOT EXISTS (
        SELECT 1 FROM delivery_delivery e
        JOIN conversations_message em ON em.id = e.message_id
        WHERE em.conversation_id = c.conversation_id AND e.recipient = c.recipient
          AND e.state IN (%s, %s) AND e.id < c.id)
    ORDER BY c.next_attempt_at, c.id LIMIT %s)
  AND state IN (%s, %s) AND (lease_until IS NULL OR lease_until < %s)
RETURNING id
"""


def claim(owner: str, limit: int = 20) -> list[Delivery]:
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WORKER_LEASE_SECONDS)
    skip_locked = " FOR UPDATE OF d SKIP LOCKED" if connection.vendor == "postgresql" else ""
    open_states = [s.value for s in OPEN]
    # SQL: one UPDATE … RETURNING claims a batch (SKIP LOCKED on PostgreSQL): no two workers take one delivery
    taken = rows.fetchall(
        _CLAIM_SQL.format(skip_locked=skip_locked),
        # The head of the queue is looked at (three times the batch), as a blocked delivery there
        # waits for the one before it; checking the order of the whole queue would cost far more.
        [owner, lease, *open_states, now, now, limit * 3, *open_states, limit, *open_states, now],
    )
    if not taken:
        return []
    claimed = Delivery.objects.select_related("message").filter(pk__in=[row[0] for row in taken])
    return list(claimed.order_by("next_attempt_at", "id"))


def deliver(delivery: Delivery, owner: str, session: SmtpSession) -> Outcome:
    try:
        rendered = render_delivery(delivery, eight_bit=session.offers("8bitmime"))
    except LeakDetected as error:
        # Never send it: a real address would reach the other party. An operator must look.
        log.error("delivery %s withheld: %s", delivery.pk, error)
        result = SendResult(Outcome.PERMANENT, None, "withheld by the anonymity check")
    except stored.NoRawMime:  # erased or purged while the delivery waited: nothing left to send
        log.warning("delivery %s dropped: its message's raw MIME was removed", delivery.pk)
        result = SendResult(Outcome.PERMANENT, None, "the message was removed (erasure or retention)")
    except Exception:
        # A bug in rendering must not stall the queue or lose the message: it is retried on the
        # schedule (a fixed release will send it) and the sender is told if it never goes out.
        log.exception("delivery %s could not be rendered", delivery.pk)
        result = SendResult(Outcome.TEMPORARY, None, "internal error while preparing the message")
    else:
        result = session.send(rendered.envelope_from, delivery.recipient, rendered.data)
    record(delivery.pk, owner, result, delivery.message.created_at)
    return result.outcome


def record(delivery_id: int, owner: str, result: SendResult, written_at: datetime | None = None) -> None:
    """The result of one attempt, if this worker still holds the lease (hand-written: ADR 4).
    ``written_at`` is when the message was stored, for the delivery-latency histogram."""
    now = timezone.now()
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""  # SQLite: BEGIN IMMEDIATE
    with transaction.atomic():
        # SQL: the worker records every attempt; through the ORM it delivers at 0.69-0.76 × (ADR 24)
        found = rows.fetchall(
            f"SELECT attempts, message_id FROM delivery_delivery "
            f"WHERE id = %s AND lease_owner = %s AND state IN (%s, %s){lock}",
            [delivery_id, owner, *[s.value for s in OPEN]],
        )
        if not found:
            log.warning("delivery %s: lease lost before recording the result", delivery_id)
            return
        attempts, message_id = found[0][0] + 1, found[0][1]
        finished_at, next_attempt_at, notify = None, None, False
        observability.DELIVERY_ATTEMPTS.labels(result.outcome.value).inc()
        if result.outcome == Outcome.DELIVERED:
            state, finished_at = Delivery.State.DELIVERED, now
            if written_at is not None:
                observability.DELIVERY_LATENCY.observe((now - written_at).total_seconds())
        else:
            delay = None if result.outcome == Outcome.PERMANENT else next_attempt_delay(attempts)
            if delay is None:
                state, finished_at, notify = Delivery.State.FAILED, now, True
            else:
                state, next_attempt_at = Delivery.State.DEFERRED, now + timedelta(seconds=delay)
                observability.RETRIES.inc()
        rows.execute(
            "UPDATE delivery_delivery SET attempts = %s, last_reply = %s, lease_owner = '', "
            "lease_until = NULL, state = %s, finished_at = %s, "
            "next_attempt_at = COALESCE(%s, next_attempt_at) WHERE id = %s",
            [attempts, result.reply[:2000], state.value, finished_at, next_attempt_at, delivery_id],
        )
        rows.insert(
            DeliveryAttempt,
            delivery_id=delivery_id,
            at=now,
            code=result.code,
            reply=result.reply[:2000],
            outcome=result.outcome.value,
        )
        log.info(
            "delivery %s: %s after %s attempt(s)",
            delivery_id,
            state.value,
            attempts,
            extra={
                "delivery_id": delivery_id,
                "message_id": message_id,
                "state": state.value,
                "attempts": attempts,
                "code": result.code,
            },
        )
        if state == Delivery.State.FAILED:
            events.delivery_failed(delivery_id, message_id)
        if notify:
            try:
                with transaction.atomic():  # a notice that cannot be made must not undo the result
                    notify_failure(Delivery.objects.select_related("message").get(pk=delivery_id))
            except Exception:
                log.exception("delivery %s failed; its failure notice could not be queued", delivery_id)


def run_once(owner: str, limit: int = 20) -> int:
    """Deliver what is due now (relayed mail, then account mail); returns how many were attempted.
    The session connects only when there is something to send."""
    claimed = claim(owner, limit)
    host, port = settings.SMARTHOST
    with SmtpSession(host, port, settings.SMTP_TIMEOUT_SECONDS) as session:
        for delivery in claimed:
            deliver_alone(delivery, owner, session)
        sent = account_mail.send_due(owner, session)
    return len(claimed) + sent


def deliver_alone(delivery: Delivery, owner: str, session: SmtpSession) -> None:
    """One delivery of a batch: whatever goes wrong with it stays with it. An exception that
    escaped once dropped the whole batch, which was claimed again every lease with the same bad
    delivery first, and mail behind it stayed pending for ever."""
    try:
        deliver(delivery, owner, session)
    except Exception as error:
        log.exception("delivery %s failed unexpectedly; retried on the schedule", delivery.pk)
        session.close()
        try:
            reason = f"internal error while delivering: {type(error).__name__}"
            record(delivery.pk, owner, SendResult(Outcome.TEMPORARY, None, reason))
        except Exception:  # the database itself is away: the lease expires and it is claimed again
            log.exception("delivery %s: could not record the failure", delivery.pk)
            close_old_connections()


def run(stop: threading.Event, owner: str | None = None) -> None:
    owner = owner or worker_name()
    log.info("worker %s started; smarthost %s:%s", owner, *settings.SMARTHOST)
    while not stop.is_set():
        try:
            done = run_once(owner)
        except Exception:  # the database may be away for a while: wait and try again
            log.exception("worker loop failed; retrying shortly")
            close_old_connections()
            done = 0
        if not done:
            stop.wait(settings.WORKER_POLL_SECONDS)
