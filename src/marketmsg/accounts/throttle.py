"""Sign-in throttling: too many failed sign-ins for one account, or from one client, within the
window and further attempts are refused until the oldest failure leaves it.

Failures live in the database, so every web process and machine counts the same ones. A refused
attempt is not checked against the password at all, so guessing gains nothing while it lasts.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from marketmsg.accounts.models import SignInFailure


def account_key(typed_address: str) -> str:
    digest = hashlib.sha256(typed_address.strip().lower().encode("utf-8")).hexdigest()[:40]
    return f"account:{digest}"


def client_key(ip_address: str) -> str:
    return f"client:{ip_address[:60]}"


def _window() -> timedelta:
    return timedelta(seconds=settings.SIGNIN_WINDOW_SECONDS)


def minutes_to_wait(typed_address: str, ip_address: str) -> int:
    """0 if this attempt may go ahead; otherwise the whole minutes until it may."""
    now = timezone.now()
    since = now - _window()
    waits = []
    for key, limit in (
        (account_key(typed_address), settings.SIGNIN_FAILURES_PER_ACCOUNT),
        (client_key(ip_address), settings.SIGNIN_FAILURES_PER_CLIENT),
    ):
        recent = list(
            SignInFailure.objects.filter(key=key, at__gt=since)
            .order_by("-at")
            .values_list("at", flat=True)[:limit]
        )
        if len(recent) >= limit:
            # Allowed again once the limit-th most recent failure has left the window.
            waits.append(recent[limit - 1] + _window() - now)
    if not waits:
        return 0
    return max(1, math.ceil(max(waits).total_seconds() / 60))


def record_failure(typed_address: str, ip_address: str) -> None:
    now = timezone.now()
    SignInFailure.objects.bulk_create(
        [
            SignInFailure(key=account_key(typed_address), at=now),
            SignInFailure(key=client_key(ip_address), at=now),
        ]
    )
    SignInFailure.objects.filter(at__lt=now - 2 * _window()).delete()  # keep the table small


def forget_failures(typed_address: str) -> None:
    """A correct sign-in clears the account's count (not the client's: one shared IP may hold
    a guesser as well as the account's owner)."""
    SignInFailure.objects.filter(key=account_key(typed_address)).delete()
