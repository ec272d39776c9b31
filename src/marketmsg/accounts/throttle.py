"""Sign-in throttling, by the one rate limiter (limits.shared, ADR 23): each failed sign-in takes a
token from the account's bucket and from the client's; with either empty, attempts are refused
until a token has refilled (the account's ``SIGNIN_FAILURES_PER_ACCOUNT`` per ``SIGNIN_WINDOW``,
the client's ``SIGNIN_FAILURES_PER_CLIENT``).

The buckets live in the database, so every web process and machine counts the same failures. A
refused attempt is not checked against the password at all, so guessing gains nothing while it
lasts. Keys hold a hash of the typed address, never the address.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings

from marketmsg.limits import shared
from marketmsg.limits.rate import Rate


def _buckets(scope: str, failures: int) -> shared.Buckets:
    return shared.Buckets(f"signin-{scope}", Rate(failures, settings.SIGNIN_WINDOW_SECONDS))


def _account() -> shared.Buckets:
    return _buckets("account", settings.SIGNIN_FAILURES_PER_ACCOUNT)


def _client() -> shared.Buckets:
    return _buckets("client", settings.SIGNIN_FAILURES_PER_CLIENT)


def account_key(typed_address: str) -> str:
    return hashlib.sha256(typed_address.strip().lower().encode("utf-8")).hexdigest()[:40]


def client_key(ip_address: str) -> str:
    return ip_address[:60]


def minutes_to_wait(typed_address: str, ip_address: str) -> int:
    """0 if this attempt may go ahead; otherwise the whole minutes until it may."""
    wait = max(_account().wait(account_key(typed_address)), _client().wait(client_key(ip_address)))
    return max(1, math.ceil(wait / 60)) if wait else 0


def record_failure(typed_address: str, ip_address: str) -> None:
    _account().take(account_key(typed_address))
    _client().take(client_key(ip_address))


def forget_failures(typed_address: str) -> None:
    """A correct sign-in clears the account's count (not the client's: one shared IP may hold
    a guesser as well as the account's owner)."""
    _account().forget(account_key(typed_address))
