from __future__ import annotations

from django.db import models


class Bucket(models.Model):
    """A token bucket counted in the database (limits.shared): one row per limited key, e.g.
    ``api:17`` or ``signin-account:<hash of the typed address>`` — never what a person typed."""

    key = models.CharField(max_length=100, unique=True)
    tokens = models.FloatField()
    at = models.FloatField(db_index=True)  # Unix seconds when ``tokens`` was counted (swept by age)

    def __str__(self) -> str:
        return self.key
