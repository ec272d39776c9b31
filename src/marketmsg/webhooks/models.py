"""Webhooks to the marketplace: subscriptions, the event outbox, deliveries and their attempts.

An event is written in the same transaction as the change that causes it (``webhooks.events``),
so a rollback takes it back and a commit keeps it, whatever happens to any process afterwards.
The sender (``webhooks.sender``) fans each event out to the subscriptions that want it and
delivers them at least once, in order per conversation. Nothing here is ever deleted.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Every event a subscription may ask for (SPEC: webhooks), with what it means.
EVENT_TYPES: dict[str, str] = {
    "message.received": "A buyer's message reached the seller.",
    "message.sent": "A seller's message was relayed to the buyer.",
    "message.blocked": "A message broke the communication guidelines and was not delivered.",
    "message.held": "Mail from an address the seller has not approved waits for the owner.",
    "message.routed_to_customer_service": "A buyer's message went to marketplace customer service.",
    "delivery.failed": "A message could not be delivered to a mailbox; the writer was told.",
    "response.at_risk": "A buyer's message is near the end of its 24 hours without an answer.",
    "sender.pending": "An unknown address wrote as the seller and waits for the owner's decision.",
    "order.claim_opened": "Marketplace staff opened a claim about an order.",
}


def new_secret() -> str:
    """A signing secret as the Standard Webhooks specification writes them: whsec_ and base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class NeverDeleted(models.QuerySet):  # type: ignore[type-arg]
    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Webhook subscriptions, events and deliveries are never deleted.")


class Subscription(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        DISABLED = "disabled", _("Disabled")

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=2000)
    # Space-separated event types; empty means every event.
    events = models.TextField(blank=True, default="")
    secret = models.CharField(max_length=100, default=new_secret)
    # While a rotation is under way, deliveries are signed with the old secret too, so that the
    # receiver can switch when it likes (the signature header carries both).
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    include_bodies = models.BooleanField(
        default=False, help_text="Add each message's subject and text to message events."
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    # Since when every attempt has failed (None after a success); past WEBHOOK_DISABLE_AFTER the
    # subscription is disabled and its contact told.
    failing_since = models.DateTimeField(null=True, blank=True)
    contact_email = models.EmailField(blank=True, default="", help_text="Told when it is disabled.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = NeverDeleted.as_manager()

    def __str__(self) -> str:
        return f"{self.name} → {self.url}"

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Webhook subscriptions are never deleted; disable one instead.")

    def wants(self, event_type: str) -> bool:
        return not self.events.strip() or event_type in self.events.split()

    def signing_secrets(self) -> list[str]:
        current = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_until
            and self.previous_secret_until > timezone.now()
        ):
            current.append(self.previous_secret)
        return current


class Event(models.Model):
    """One thing that happened, as the outbox keeps it: internal IDs only. What the receiver gets
    (external IDs, never a real address) is rendered when it is sent (webhooks.payloads)."""

    event_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=50)
    # Events with the same key reach each subscription in the order they happened.
    ordering_key = models.CharField(max_length=60)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    fanned_out = models.BooleanField(default=False)
    # Events that must happen once per thing (a message at risk) carry a key; a second is not written.
    dedupe_key = models.CharField(max_length=80, unique=True, null=True, blank=True)

    objects = NeverDeleted.as_manager()

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["id"], condition=models.Q(fanned_out=False), name="webhook_event_unsent")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="deliveries")
    ordering_key = models.CharField(max_length=60)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=60, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects = NeverDeleted.as_manager()

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="one_delivery_per_subscription")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["subscription", "ordering_key", "event"],
                condition=models.Q(state="pending"),
                name="webhook_delivery_pending",
            ),
            models.Index(
                fields=["next_attempt_at"], condition=models.Q(state="pending"), name="webhook_delivery_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription.name} ({self.state})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.PROTECT, related_name="attempts_made")
    at = models.DateTimeField(default=timezone.now)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # None: no HTTP answer at all
    error = models.CharField(max_length=500, blank=True, default="")
    milliseconds = models.PositiveIntegerField(default=0)

    objects = NeverDeleted.as_manager()

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status or self.error}"
