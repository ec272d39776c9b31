"""Which provider subject is which person, for the people a provider's sign-in created.

Sellers and buyers are never created by a sign-in: the marketplace's subject claim is looked up
as their external_id each time (the operator API is where they come from). Staff come from the
operator's own provider: the first sign-in with a staff role claim makes their account, and the
identity row ties that provider's subject to it from then on.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class SignInIdentity(models.Model):
    provider = models.CharField(max_length=20)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="identities")
    created_at = models.DateTimeField(default=timezone.now)
    last_signed_in_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "subject"], name="one_person_a_subject")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.subject}"
