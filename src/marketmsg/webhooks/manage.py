"""Changing subscriptions, for the operator admin and the operator API alike."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from marketmsg.webhooks.models import EVENT_TYPES, Subscription, WebhookDelivery, new_secret

# How long the old secret still signs after a rotation, so that receivers can switch over.
ROTATION_OVERLAP = timedelta(hours=24)


class Invalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(
            "url", "must be an http:// or https:// URL with a host, like https://shop.example/hooks."
        )
    return url.strip()


def check_events(events: list[str]) -> str:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise Invalid(
            "events", f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}."
        )
    return " ".join(e for e in EVENT_TYPES if e in events)


def check_contact(email: str) -> str:
    email = email.strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise Invalid("contact_email", "is not a mailbox address (like ops@shop.example).") from None
    return email


def enable(subscription: Subscription) -> None:
    """Active again: what piled up while it was disabled is sent, in order, from now on."""
    with transaction.atomic():
        Subscription.objects.filter(pk=subscription.pk).update(
            state=Subscription.State.ACTIVE, disabled_at=None, disabled_reason="", failing_since=None
        )
        WebhookDelivery.objects.filter(subscription=subscription, state=WebhookDelivery.State.PENDING).update(
            next_attempt_at=timezone.now()
        )
    subscription.refresh_from_db()


def disable(subscription: Subscription, reason: str) -> None:
    Subscription.objects.filter(pk=subscription.pk).update(
        state=Subscription.State.DISABLED, disabled_at=timezone.now(), disabled_reason=reason[:300]
    )
    subscription.refresh_from_db()


def rotate_secret(subscription: Subscription) -> str:
    """A new secret; the old one keeps signing for ROTATION_OVERLAP (both signatures are sent)."""
    secret = new_secret()
    Subscription.objects.filter(pk=subscription.pk).update(
        secret=secret,
        previous_secret=subscription.secret,
        previous_secret_until=timezone.now() + ROTATION_OVERLAP,
    )
    subscription.refresh_from_db()
    return secret


def replay(delivery: WebhookDelivery) -> None:
    """Send the event again (its event ID stays the same, so the receiver can tell)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.PENDING, next_attempt_at=timezone.now(), lease_owner="", lease_until=None
    )
