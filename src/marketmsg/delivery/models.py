"""Deliveries: one row per (message, real recipient mailbox); the worker's queue is this table."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Delivery(models.Model):
    class State(models.TextChoices):
        HELD = "held", _("Held")
        PENDING = "pending", _("Pending")
        DEFERRED = "deferred", _("Deferred")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")
        CANCELLED = "cancelled", _("Cancelled")

    OPEN_STATES = (State.PENDING, State.DEFERRED)

    message = models.ForeignKey("conversations.Message", on_delete=models.PROTECT, related_name="deliveries")
    recipient = models.EmailField(help_text="The real mailbox; never shown to the other party.")
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    last_reply = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.state})"


class DeliveryAttempt(models.Model):
    """Each SMTP answer we got (or the connection error), for the sender's status and disputes."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    code = models.PositiveIntegerField(null=True, blank=True)
    reply = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=9)
