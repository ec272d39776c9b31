"""Records of removal: what a purge run or an erasure removed, never what it was."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class PurgeRun(models.Model):
    """One run of ``marketmsg purge``: counts of what it removed, by kind."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    raw_mime = models.PositiveIntegerField(default=0)
    attachments = models.PositiveIntegerField(default=0)
    message_texts = models.PositiveIntegerField(default=0)
    kept_for_claims = models.PositiveIntegerField(default=0)
    blobs_deleted = models.PositiveIntegerField(default=0)
    orphans_deleted = models.PositiveIntegerField(default=0)
    settings = models.JSONField(default=dict, help_text="The retention periods this run applied.")

    def __str__(self) -> str:
        return f"purge {self.started_at:%Y-%m-%d %H:%M}"


class Erasure(models.Model):
    """A person erased on request. Holds the person's row IDs and the counts, none of what was
    erased: the request itself must not keep what it removed."""

    class Kind(models.TextChoices):
        BUYER = "buyer", "Buyer"
        SELLER_USER = "seller_user", "Seller user"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    user_id_erased = models.BigIntegerField(help_text="The erased person's user row.")
    external_id = models.CharField(max_length=100, blank=True, default="")
    requested_by = models.CharField(max_length=200, help_text="The operator credential or admin user.")
    reference = models.CharField(max_length=200, blank=True, default="", help_text="The request's ticket.")
    erased_at = models.DateTimeField(default=timezone.now)
    messages_redacted = models.PositiveIntegerField(default=0)
    raw_mime_removed = models.PositiveIntegerField(default=0)
    attachments_removed = models.PositiveIntegerField(default=0)
    relay_addresses_stopped = models.PositiveIntegerField(default=0)
    conversations_resealed = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"erasure of {self.kind} {self.user_id_erased}"
