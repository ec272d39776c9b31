"""Delivering webhook events: fan out, send, retry with back-off, disable what fails for days.

``run`` loops until stopped; ``run_once`` is one pass (tests drive it step by step). Every
delivery is leased before it is sent and marked delivered only after the receiver answered 2xx,
so a sender killed at any point re-sends at most the events it was sending: at least once, and
the event ID lets the receiver drop a repeat. A subscription gets the events of one conversation
(or seller, or order) one at a time, in the order they were written.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from marketmsg import rows
from marketmsg.webhooks import at_risk, notices, payloads
from marketmsg.webhooks.models import Event, Subscription, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)
FAN_OUT_BATCH = 500
SEND_BATCH = 20
AT_RISK_EVERY = 60.0  # seconds between looks for answers about to be late


def sender_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:60]


def fan_out() -> int:
    """Deliveries for the events not yet fanned out, to every subscription that wants them and
    existed when the event happened. Returns how many events were handled."""
    with transaction.atomic():
        batch = list(Event.objects.filter(fanned_out=False).order_by("id")[:FAN_OUT_BATCH])
        if not batch:
            return 0
        subscriptions = list(Subscription.objects.all())
        now = timezone.now()
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    event=event,
                    subscription=subscription,
                    ordering_key=event.ordering_key,
                    next_attempt_at=now,
                    created_at=now,
                )
                for event in batch
                for subscription in subscriptions
                if subscription.wants(event.type) and subscription.created_at <= event.created_at
            ],
            ignore_conflicts=True,  # another sender fanned the same events out
        )
        Event.objects.filter(pk__in=[e.pk for e in batch]).update(fanned_out=True)
    return len(batch)


# Due, free, of an active subscription, and the first still pending of its ordering key.
_DUE_SQL = """
SELECT d.id FROM webhooks_webhookdelivery d
JOIN webhooks_subscription s ON s.id = d.subscription_id
WHERE d.state = 'pending' AND d.next_attempt_at <= %s AND s.state = 'active'
  AND (d.lease_until IS NULL OR d.lease_until < %s)
  AND NOT EXISTS (
    SELECT 1 FROM webhooks_webhookdelivery e
    WHERE e.subscription_id = d.subscription_id AND e.ordering_key = d.ordering_key
      AND e.state = 'pending' AND e.event_id < d.event_id)
ORDER BY d.next_attempt_at, d.id LIMIT %s
"""


def _lease(owner: str, now: datetime) -> list[WebhookDelivery]:
    at = rows.db_value(now)
    taken = []
    # SQL: due deliveries whose earlier events of their key are done (NOT EXISTS), each leased by one UPDATE
    for (delivery_id,) in rows.fetchall(_DUE_SQL, [at, at, SEND_BATCH]):
        got = rows.execute(
            "UPDATE webhooks_webhookdelivery SET lease_owner = %s, lease_until = %s "
            "WHERE id = %s AND state = 'pending' AND (lease_until IS NULL OR lease_until < %s)",
            [owner, rows.db_value(now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)), delivery_id, at],
        )
        if got:
            taken.append(delivery_id)
    return list(
        WebhookDelivery.objects.filter(pk__in=taken).select_related("event", "subscription").order_by("id")
    )


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timed out, DNS)
    error: str
    milliseconds: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """One POST. Redirects are not followed: a receiver must answer at its own URL."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(_NoRedirect)
    started = time.monotonic()
    try:
        with opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(4096)
            status, error = response.status, ""
    except urllib.error.HTTPError as failed:
        status, error = failed.code, f"HTTP {failed.code} {failed.reason}"
    except (OSError, ValueError) as failed:  # refused, reset, timed out, unknown host, bad URL
        status, error = None, f"{type(failed).__name__}: {failed}"
    return Answer(status, error[:500], int((time.monotonic() - started) * 1000))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def signed_headers(event_id: str, body: bytes, secrets_: list[str], at: datetime) -> dict[str, str]:
    """Standard Webhooks headers; during a secret rotation one signature per secret."""
    signatures = " ".join(Webhook(secret).sign(event_id, at, body) for secret in secrets_)
    return {
        "Content-Type": "application/json",
        "User-Agent": "marketmsg-webhooks/1",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


def send(delivery: WebhookDelivery, owner: str) -> bool:
    event, subscription = delivery.event, delivery.subscription
    body = payloads.body_of(event, subscription)
    headers = signed_headers(event.event_id, body, subscription.signing_secrets(), timezone.now())
    answer = post(subscription.url, body, headers)
    _record(delivery, owner, answer)
    return answer.ok


def retry_delay(attempts: int) -> int:
    schedule = settings.WEBHOOK_RETRY_SCHEDULE or [60]
    return schedule[min(attempts, len(schedule)) - 1]


def _record(delivery: WebhookDelivery, owner: str, answer: Answer) -> None:
    now = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now,
            status=answer.status,
            error=answer.error,
            milliseconds=answer.milliseconds,
        )
        attempts = delivery.attempts + 1
        mine = WebhookDelivery.objects.filter(pk=delivery.pk, lease_owner=owner, state="pending")
        if answer.ok:
            mine.update(
                state=WebhookDelivery.State.DELIVERED,
                attempts=attempts,
                delivered_at=now,
                last_status=answer.status,
                last_error="",
                lease_owner="",
                lease_until=None,
            )
            Subscription.objects.filter(pk=delivery.subscription_id).update(failing_since=None)
            return
        mine.update(
            attempts=attempts,
            next_attempt_at=now + timedelta(seconds=retry_delay(attempts)),
            last_status=answer.status,
            last_error=answer.error,
            lease_owner="",
            lease_until=None,
        )
        _failing(delivery.subscription_id, now, answer)


def _failing(subscription_id: int, now: datetime, answer: Answer) -> None:
    """Remember since when the subscription fails; disable it once that has lasted too long."""
    Subscription.objects.filter(pk=subscription_id, failing_since__isnull=True).update(failing_since=now)
    since = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER)
    disabled = Subscription.objects.filter(
        pk=subscription_id, state=Subscription.State.ACTIVE, failing_since__lte=since
    ).update(
        state=Subscription.State.DISABLED,
        disabled_at=now,
        disabled_reason=f"Every attempt failed since {since:%Y-%m-%d %H:%M} UTC; last: "
        f"{answer.error or answer.status}"[:300],
    )
    if disabled:
        subscription = Subscription.objects.get(pk=subscription_id)
        transaction.on_commit(lambda: notices.tell_disabled(subscription))


def run_once(owner: str | None = None, now: datetime | None = None) -> int:
    """Fan out what is new and send what is due; returns the number of deliveries attempted."""
    owner = owner or sender_name()
    while fan_out():
        pass
    sent = 0
    for delivery in _lease(owner, now or timezone.now()):
        send(delivery, owner)
        sent += 1
    return sent


def run(stop: threading.Event, owner: str | None = None) -> None:
    owner = owner or sender_name()
    last_look = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() - last_look >= AT_RISK_EVERY:
                at_risk.look()
                last_look = time.monotonic()
            if not run_once(owner):
                stop.wait(settings.WEBHOOK_POLL_SECONDS)
        except Exception:
            log.exception("webhook sender: pass failed; trying again")
            close_old_connections()
            stop.wait(settings.WEBHOOK_POLL_SECONDS)
    connection.close()
