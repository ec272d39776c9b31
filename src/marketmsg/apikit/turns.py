"""Each request of a bearer key (a seller's API token, an operator credential) takes a turn from
the key's rate limit (the one limiter, limits.shared) and notes when the key was last used."""

from __future__ import annotations

import math
from datetime import timedelta

from django.utils import timezone

from marketmsg.accounts.models import BearerKey
from marketmsg.apikit.problems import Problem
from marketmsg.limits import shared
from marketmsg.limits.rate import Rate

LAST_USED_STEP = timedelta(minutes=1)  # "last used" is shown to the minute: no write per request


def take_turn(key: BearerKey, scope: str, per_minute: int) -> None:
    """Problem 429 with Retry-After when ``key`` is over ``per_minute`` requests a minute."""
    wait = shared.Buckets(scope, Rate(per_minute, 60.0)).take(str(key.pk))
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_STEP:
        type(key)._default_manager.filter(pk=key.pk).update(last_used_at=now)
    if wait:
        retry_after = max(1, math.ceil(wait))
        raise Problem(
            429,
            "rate_limited",
            "Too many requests",
            f"This key may make {per_minute} requests a minute. Try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
