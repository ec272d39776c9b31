"""The one rate limiter's arithmetic: token buckets (ADR 23).

A key (a client address, a sender, an account, an API token) has a bucket of ``limit`` tokens
that refills evenly over ``window`` seconds. An action takes a token; without a whole token it
waits until one has refilled. So a burst of up to ``limit`` passes, and then one more per
``window / limit``; over a long time no key does more than ``limit`` per ``window``.

The buckets live in memory (``memory.Buckets``: the SMTP gateway, where a shared counter would
cost a database write per mail) or in the database (``shared.Buckets``: sign-in and the APIs,
which every web process and machine must count alike). Both keep the same arithmetic, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Rate:
    limit: int  # 0: no limit
    window: float  # seconds

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"300/1h"``: 300 per hour (``s``, ``m``, ``h``, ``d``); ``"0"`` or ``"off"``: no limit."""
        if text.strip().lower() in ("0", "off", "none", ""):
            return cls(0, 1.0)
        count, _, per = text.strip().partition("/")
        per = per.strip() or "1h"
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(per[-1], 0)
        number = per[:-1] if unit else per
        if int(count) < 0 or not number.replace(".", "", 1).isdigit():
            raise ValueError(f"not a rate (like 300/1h): {text!r}")
        return cls(int(count), float(number) * (unit or 1))

    @property
    def off(self) -> bool:
        return self.limit <= 0

    def level(self, tokens: float, elapsed: float) -> float:
        """The tokens a bucket holds ``elapsed`` seconds after it held ``tokens``."""
        return min(float(self.limit), tokens + max(0.0, elapsed) * self.limit / self.window)

    def wait(self, level: float) -> float:
        """Seconds until a bucket at ``level`` holds a whole token (0: it does now)."""
        if self.off or level >= 1.0:
            return 0.0
        return (1.0 - level) * self.window / self.limit


class Limiter(Protocol):
    """What both kinds of buckets answer."""

    rate: Rate

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may act (0: now); nothing is taken."""
        ...

    def take(self, key: str) -> float:
        """Take a token of ``key`` if it has one (returns 0); else the seconds to wait, and
        nothing is taken."""
        ...

    def forget(self, key: str) -> None:
        """Fill ``key``'s bucket again (a correct sign-in clears the account's failures)."""
        ...
