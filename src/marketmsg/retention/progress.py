"""A progress line for the long retention commands: a bar on a terminal, a line every few seconds
in a log, and nothing with --quiet."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Bar:
    def __init__(self, label: str, total: int, out: TextIO | None = None, quiet: bool = False) -> None:
        self.label, self.total, self.out, self.quiet = label, max(total, 0), out or sys.stderr, quiet
        self.started = time.monotonic()
        self.last = 0.0

    def show(self, done: int) -> None:
        now = time.monotonic()
        terminal = self.out.isatty()
        if self.quiet or now - self.last < (0.2 if terminal else 5):
            return
        self.last = now
        share = done / self.total if self.total else 1.0
        rate = done / max(now - self.started, 1e-6)
        left = (self.total - done) / rate if rate else 0
        bar = "█" * int(30 * share) + "░" * (30 - int(30 * share))
        line = f"{self.label} {bar} {done:,}/{self.total:,} ({share:.0%}, {rate:,.0f}/s, ~{left:,.0f} s left)"
        self.out.write(("\r" + line) if terminal else line + "\n")
        self.out.flush()

    def done(self) -> None:
        if not self.quiet and self.out.isatty():
            self.out.write("\n")
