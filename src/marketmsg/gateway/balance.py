"""How many SMTP sessions each gateway process has open, in memory that all of them share.

Processes that share one listening socket all wake up for a new connection. The one with the
fewest sessions should take it: a sender keeps its connection open for many mails, so a process
that ends up with one connection more than the others stays busier for as long as that sender
writes (with four senders on two processes, a 3 : 1 split cost a quarter of the throughput).
Waiting a fixed time per open session was not enough: a process in the middle of a database step
or a log sync cannot accept for a few milliseconds, and a busier one took the connection.

The supervisor makes the table (an anonymous shared memory file) and hands it to each process it
starts, with the number of that process's slot. Each process writes only its own slot.
"""

from __future__ import annotations

import mmap
import os

SLOT_BYTES = 4


class LoadTable:
    """One counter of open sessions per gateway process."""

    def __init__(self, fd: int, slots: int, slot: int) -> None:
        self.slot = slot
        self.memory = mmap.mmap(fd, slots * SLOT_BYTES)
        self.counts = memoryview(self.memory).cast("i")
        self.counts[slot] = 0  # a restarted process starts with no sessions

    @staticmethod
    def create(slots: int) -> int:
        """A new table for ``slots`` processes; its file descriptor, to pass to each of them."""
        fd = os.memfd_create("marketmsg-gateway-load", 0)
        os.ftruncate(fd, slots * SLOT_BYTES)
        return fd

    def publish(self, sessions: int) -> None:
        self.counts[self.slot] = sessions

    def fewest_elsewhere(self) -> int:
        """The fewest sessions any other process has."""
        return min((n for i, n in enumerate(self.counts) if i != self.slot), default=1 << 30)

    def close(self) -> None:
        self.counts.release()
        self.memory.close()
