"""Token buckets in one process's memory: the SMTP gateway's limits (ADR 14, ADR 23).

On the mail path a shared counter would cost a database write per mail, and a limit there only
needs to stop a flood, not to be exact: with N gateway processes the effective limit is up to N
times the setting.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from marketmsg.limits.rate import Rate


class Buckets:
    """Token buckets by key. Keys not seen for a window are forgotten (they would be full)."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self.tokens: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self.swept = clock()

    def _level(self, key: str, now: float) -> float:
        held = self.tokens.get(key)
        return float(self.rate.limit) if held is None else self.rate.level(held[0], now - held[1])

    def wait(self, key: str) -> float:
        return 0.0 if self.rate.off else self.rate.wait(self._level(key, self.clock()))

    def take(self, key: str) -> float:
        if self.rate.off:
            return 0.0
        now = self.clock()
        level = self._level(key, now)
        if level < 1.0:
            return self.rate.wait(level)
        self.tokens[key] = (level - 1.0, now)
        if now - self.swept > self.rate.window:
            self._sweep(now)
        return 0.0

    def forget(self, key: str) -> None:
        self.tokens.pop(key, None)

    def _sweep(self, now: float) -> None:
        self.swept = now
        self.tokens = {k: v for k, v in self.tokens.items() if now - v[1] < self.rate.window}
