"""Helpers that several test modules share: running the delivery worker until nothing is due."""

from __future__ import annotations

from marketmsg.relay import worker


def deliver_all() -> int:
    total = 0
    while True:
        done = worker.run_once("test-worker")
        total += done
        if not done:
            return total
