"""What the sellers' API keeps besides its tokens (accounts.models.ApiToken): the answers of
sends made with an Idempotency-Key."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from marketmsg.accounts.models import ApiToken


class IdempotentRequest(models.Model):
    """A send made with an ``Idempotency-Key``: its answer is kept, so that a retry with the same
    key gets the same answer instead of sending twice (api.limits)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotent_requests")
    key = models.CharField(max_length=200)
    request_sha256 = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # None while it is being made
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="one_answer_per_key")]
