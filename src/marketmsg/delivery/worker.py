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
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from marketmsg import observability
from marketmsg.delivery.models import Delivery, DeliveryAttempt
from marketmsg.delivery.notices import notify_failure
from marketmsg.delivery.sending import Outcome, SendResult, SmtpSession
from marketmsg.relay.outbound import render_delivery
from marketmsg.relay.render import LeakDetected

log = logging.getLogger(__name__)
OPEN = [Delivery.State.PENDING, Delivery.State.DEFERRED]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"[:64]


def _blocked_by_earlier(delivery: Delivery) -> bool:
    """Mail in one conversation reaches each mailbox in the order it was written."""
    return Delivery.objects.filter(
        message__conversation_id=delivery.message.conversation_id,
        recipient=delivery.recipient,
        state__in=OPEN,
        pk__lt=delivery.pk,
    ).exists()


def claim(owner: str, limit: int = 20) -> list[Delivery]:
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    candidates = (
        Delivery.objects.select_related("message")
        .filter(free, state__in=OPEN, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")[: limit * 3]
    )
    claimed: list[Delivery] = []
    for delivery in candidates:
        if len(claimed) >= limit:
            break
        if _blocked_by_earlier(delivery):
            continue
        taken = Delivery.objects.filter(free, pk=delivery.pk, state__in=OPEN).update(
            lease_owner=owner, lease_until=now + timedelta(seconds=settings.WORKER_LEASE_SECONDS)
        )
        if taken:
            claimed.append(delivery)
    return claimed


def next_attempt_delay(attempts: int) -> int | None:
    """Seconds until the next try after ``attempts`` failed tries, or None to give up."""
    schedule = settings.RETRY_SCHEDULE
    return schedule[attempts - 1] if attempts <= len(schedule) else None


def deliver(delivery: Delivery, owner: str, session: SmtpSession) -> Outcome:
    try:
        rendered = render_delivery(delivery)
    except LeakDetected as error:
        # Never send it: a real address would reach the other party. An operator must look.
        log.error("delivery %s withheld: %s", delivery.pk, error)
        result = SendResult(Outcome.PERMANENT, None, "withheld by the anonymity check")
    except Exception:
        # A bug in rendering must not stall the queue or lose the message: it is retried on the
        # schedule (a fixed release will send it) and the sender is told if it never goes out.
        log.exception("delivery %s could not be rendered", delivery.pk)
        result = SendResult(Outcome.TEMPORARY, None, "internal error while preparing the message")
    else:
        result = session.send(rendered.envelope_from, delivery.recipient, rendered.data)
    record(delivery.pk, owner, result)
    return result.outcome


def record(delivery_id: int, owner: str, result: SendResult) -> None:
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("message").get(pk=delivery_id)
        if delivery.lease_owner != owner or delivery.state not in OPEN:
            log.warning("delivery %s: lease lost before recording the result", delivery_id)
            return
        now = timezone.now()
        delivery.attempts += 1
        delivery.last_reply = result.reply[:2000]
        delivery.lease_owner, delivery.lease_until = "", None
        DeliveryAttempt.objects.create(
            delivery=delivery, code=result.code, reply=result.reply[:2000], outcome=result.outcome.value
        )
        notify = False
        observability.DELIVERY_ATTEMPTS.labels(result.outcome.value).inc()
        if result.outcome == Outcome.DELIVERED:
            delivery.state, delivery.finished_at = Delivery.State.DELIVERED, now
            observability.DELIVERY_LATENCY.observe((now - delivery.message.created_at).total_seconds())
        else:
            delay = None if result.outcome == Outcome.PERMANENT else next_attempt_delay(delivery.attempts)
            if delay is None:
                delivery.state, delivery.finished_at, notify = Delivery.State.FAILED, now, True
            else:
                delivery.state = Delivery.State.DEFERRED
                delivery.next_attempt_at = now + timedelta(seconds=delay)
                observability.RETRIES.inc()
        delivery.save()
        log.info(
            "delivery %s: %s after %s attempt(s)",
            delivery.pk,
            delivery.state,
            delivery.attempts,
            extra={
                "delivery_id": delivery.pk,
                "message_id": delivery.message_id,
                "state": delivery.state,
                "attempts": delivery.attempts,
                "code": result.code,
            },
        )
        if notify:
            notify_failure(delivery)


def run_once(owner: str, limit: int = 20) -> int:
    """Deliver what is due now; returns how many deliveries were attempted."""
    claimed = claim(owner, limit)
    if claimed:
        host, port = settings.SMARTHOST
        with SmtpSession(host, port, settings.SMTP_TIMEOUT_SECONDS) as session:
            for delivery in claimed:
                deliver(delivery, owner, session)
    return len(claimed)


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
