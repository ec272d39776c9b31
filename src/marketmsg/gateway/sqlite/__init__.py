"""The gateway's SQLite-only machinery, behind one seam (ADR 24).

SQLite lets one process write at a time. The gateway works around it, and only on SQLite:

- ``turn``: the writer turn, a lock file the gateway's processes queue on (the kernel hands the
  database over the moment the holder commits; SQLite's own busy wait sleeps up to 100 ms);
- ``checkpoint``: the log copied into the database file on a helper thread, not by the commit
  that happens to fill it (about 10 % of the gateway's rate, ADR 24);
- ``steps``: the database steps run on the event loop's thread, Django's connection check only
  when it can find something (ADR 5).

Each commit syncs the log itself (``synchronous=FULL``), after the batch's blobs were synced: a
mail is answered once everything it wrote is on disk. (The log sync outside the write lock,
ADR 12, measured a gain of about 1 % in 2026-12 and was removed: ADR 24.)

``Machinery.for_this_database()`` is None on PostgreSQL: the group commit's PostgreSQL path
(batches in parallel on threads, each commit durable when it returns) reads without any of this.
"""

from __future__ import annotations

from django.db import connection

from marketmsg.gateway.sqlite.checkpoint import Checkpointer
from marketmsg.gateway.sqlite.turn import WriterTurn


class Machinery:
    def __init__(self) -> None:
        self.turn = WriterTurn()
        self.checkpoints = Checkpointer()

    @classmethod
    def for_this_database(cls) -> Machinery | None:
        return cls() if connection.vendor == "sqlite" else None

    def close(self) -> None:
        self.turn.close()
        self.checkpoints.close()
