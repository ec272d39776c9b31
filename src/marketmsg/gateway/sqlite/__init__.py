"""The gateway's SQLite-only machinery, behind one seam (ADR 24).

SQLite lets one process write at a time and, by default, syncs its log inside every commit while
it holds the write lock. The gateway works around both, and only on SQLite:

- ``turn``: the writer turn, a lock file the gateway's processes queue on (the kernel hands the
  database over the moment the holder commits; SQLite's own busy wait sleeps up to 100 ms);
- ``walflush``: commits without a sync, and one sync of the log per batch after the write lock is
  released, before the batch's senders are answered (ADR 12);
- ``checkpoint``: the log copied into the database file on a helper thread, not by the commit
  that happens to fill it;
- ``steps``: the database steps run on the event loop's thread, Django's connection check only
  when it can find something (ADR 5).

``Machinery.for_this_database()`` is None on PostgreSQL: the group commit's PostgreSQL path
(batches in parallel on threads, each commit durable when it returns) reads without any of this.
"""

from __future__ import annotations

from django.db import connection

from marketmsg.gateway.sqlite import walflush
from marketmsg.gateway.sqlite.checkpoint import Checkpointer
from marketmsg.gateway.sqlite.turn import WriterTurn


class Machinery:
    def __init__(self) -> None:
        self.turn = WriterTurn()
        self.log = walflush.WalFlush() if walflush.wanted() else None
        self.checkpoints = Checkpointer()

    @classmethod
    def for_this_database(cls) -> Machinery | None:
        return cls() if connection.vendor == "sqlite" else None

    @property
    def syncs_log(self) -> bool:
        """Whether a batch's senders wait for ``flush`` after its commit (FULL or EXTRA)."""
        return self.log is not None

    async def flush(self) -> None:
        """Everything committed so far is on disk; raises OSError if it could not be made so."""
        if self.log is not None:
            await self.log.flush()

    def close(self) -> None:
        self.turn.close()
        if self.log is not None:
            self.log.close()
        self.checkpoints.close()
