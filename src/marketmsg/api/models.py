"""Personal API tokens of seller users (SPEC F12): shown once, stored as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets

from django.db import models
from django.utils import timezone

from marketmsg.accounts.models import User

PREFIX = "mm_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BearerKey(models.Model):
    """What every bearer key has, a seller's token or an operator credential: shown once, kept
    as a digest, scoped, revocable, and counted by the one rate limiter (api.limits)."""

    name = models.CharField(max_length=100)
    # The first characters, so that people can tell their keys apart; never enough to use one.
    shown_prefix = models.CharField(max_length=14)
    token_digest = models.CharField(max_length=64, unique=True)
    scopes = models.CharField(max_length=100, default="read")  # space-separated
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The rate limit's current one-minute window and the requests counted in it (api.limits).
    window_start = models.DateTimeField(null=True, blank=True)
    window_count = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name} ({self.shown_prefix}…)"

    def allows(self, scope: str) -> bool:
        return scope in self.scopes.split()


class ApiToken(BearerKey):
    class Scope(models.TextChoices):
        READ = "read", "read"
        WRITE = "write", "write"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")

    @classmethod
    def issue(cls, user: User, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
        """A new token and its secret, which is shown once and never stored."""
        secret = PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            shown_prefix=secret[:10],
            token_digest=digest(secret),
            scopes=" ".join(s for s in ("read", "write") if s in scopes),
        )
        return token, secret


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
