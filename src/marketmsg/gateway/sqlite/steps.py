"""The gateway's database steps on SQLite: on the event loop's thread (ADR 5)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

T = TypeVar("T")


def step(func: Callable[..., T], *args: Any) -> T:
    """On SQLite, Django's between-requests check runs only when it could do something: after an
    error, or once the connection has reached its age (a health check of an SQLite connection
    always passes). Before every step it cost more than some of the steps' own queries."""
    db = connections[DEFAULT_DB_ALIAS]
    if (
        db.connection is None
        or db.errors_occurred
        or (db.close_at is not None and time.monotonic() >= db.close_at)
    ):
        close_old_connections()
    return func(*args)
