"""Operator credentials for the marketplace's machine-to-machine API, and import runs."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import models
from django.utils import timezone

from marketmsg.accounts.models import BearerKey, digest

PREFIX = "mmop_"
SCOPES = {
    "catalog": "create and update sellers, buyers, products and orders (upserts, import)",
    "messages": "post notices into conversations as the marketplace",
    "webhooks": "manage webhook subscriptions",
    "read": "read what was upserted and the state of webhook deliveries",
    "erasure": "erase a person on request (cannot be undone)",
}


class OperatorCredential(BearerKey):
    """A marketplace system's key to /api/operator/v1/. Never a seller's token: it is not tied to
    a person and opens no page. Stored as a SHA-256 digest; the secret is shown once."""

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Operator credentials are never deleted; revoke one instead.")

    @classmethod
    def issue(cls, name: str, scopes: list[str]) -> tuple[OperatorCredential, str]:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scope(s) {', '.join(unknown)}; use {', '.join(SCOPES)}")
        secret = PREFIX + secrets.token_urlsafe(32)
        credential = cls.objects.create(
            name=name,
            shown_prefix=secret[:12],
            token_digest=digest(secret),
            scopes=" ".join(s for s in SCOPES if s in scopes),
        )
        return credential, secret


class ImportRun(models.Model):
    """One file's import: how far it got, so that an interrupted import goes on where it stopped.
    The position is written in the same transaction as the records before it."""

    fingerprint = models.CharField(max_length=64, unique=True)  # of the file's content
    source = models.CharField(max_length=500)
    lines_done = models.PositiveBigIntegerField(default=0)
    created = models.PositiveBigIntegerField(default=0)
    updated = models.PositiveBigIntegerField(default=0)
    unchanged = models.PositiveBigIntegerField(default=0)
    refused = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.source} ({self.lines_done} lines)"
