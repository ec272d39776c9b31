"""Token buckets in the database: sign-in and the APIs (ADR 23), which every web process and
machine must count alike. One row per key, read and written under a row lock, so two processes
never both take the last token.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import transaction

from marketmsg.limits.models import Bucket
from marketmsg.limits.rate import Rate


def now() -> float:
    """Unix seconds: every machine's buckets read the same clock (a test moves this one)."""
    return time.time()


class Buckets:
    """The buckets of one ``scope`` (``api``, ``signin-account``, …), keys prefixed by it."""

    def __init__(self, scope: str, rate: Rate, clock: Callable[[], float] | None = None) -> None:
        self.scope, self.rate = scope, rate
        self.clock = clock or (lambda: now())

    def _key(self, key: str) -> str:
        return f"{self.scope}:{key}"[:100]

    def wait(self, key: str) -> float:
        if self.rate.off:
            return 0.0
        row = Bucket.objects.filter(key=self._key(key)).values_list("tokens", "at").first()
        if row is None:
            return 0.0
        return self.rate.wait(self.rate.level(row[0], self.clock() - row[1]))

    def take(self, key: str) -> float:
        if self.rate.off:
            return 0.0
        name, now = self._key(key), self.clock()
        with transaction.atomic():
            # The row exists before it is locked, so two first requests cannot both insert it.
            Bucket.objects.bulk_create(
                [Bucket(key=name, tokens=float(self.rate.limit), at=now)], ignore_conflicts=True
            )
            tokens, at = Bucket.objects.select_for_update().filter(key=name).values_list("tokens", "at")[0]
            level = self.rate.level(tokens, now - at)
            if level < 1.0:
                return self.rate.wait(level)
            Bucket.objects.filter(key=name).update(tokens=level - 1.0, at=now)
        return 0.0

    def forget(self, key: str) -> None:
        Bucket.objects.filter(key=self._key(key)).delete()

    @staticmethod
    def sweep(older_than: float, clock: Callable[[], float] | None = None) -> int:
        """Remove buckets untouched for ``older_than`` seconds (full again by then for any rate
        whose window is shorter); returns how many."""
        return Bucket.objects.filter(at__lt=(clock or now)() - older_than).delete()[0]
