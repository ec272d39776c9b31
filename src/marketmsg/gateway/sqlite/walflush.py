"""FULL durability for the gateway's SQLite commits, with the fsync outside the write lock (ADR 12).

With ``synchronous=FULL`` SQLite syncs the write-ahead log inside every COMMIT, while it holds
the database's only write lock, and on the gateway's event-loop thread: the one writer at a time
spends most of its turn waiting for the disk, and the loop waits with it. Here the gateway's own
connection commits with ``synchronous=NORMAL`` (the frames are written to the log, not synced),
lets go of the lock, and then syncs the log file itself. A mail is answered ``250`` only after a
sync that began after its commit has finished, so the promise is FULL's: the rows survive a power
loss.

Where the sync runs depends on how long the disk takes. A sync that usually takes well under a
millisecond (a local SSD) runs right on the event loop: handing it to a helper thread and back
cost more CPU than the sync itself, and the CPU is what a busy gateway runs out of. A slower disk
(network storage) would stall every session of the process, so its syncs run on a helper thread
while the loop serves other sessions and the next batch commits (ADR 15).

Why one sync of the log file is enough: the frames of a commit are in the log until a checkpoint
copies them into the database file, and SQLite syncs the log before a checkpoint and the database
file after it. Either the frames are still in the log (this sync makes them durable, with every
earlier one), or a checkpoint already made them durable. A log that is gone was checkpointed
completely before it was deleted. A new log file is announced to its directory by a sync of the
directory, as SQLite does with FULL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created

log = logging.getLogger(__name__)

# Syncs that take less than this on average run on the event loop; slower ones on a thread.
# Measured under load on a local SSD: median 1.0 ms, 90th percentile 1.7 ms.
INLINE_SYNC_BELOW = 0.002
# Weight of the newest sync in the running average: a few slow syncs in a row move it over.
SYNC_AVERAGE_WEIGHT = 0.2


def wanted() -> bool:
    """On SQLite with a durable setting (FULL or EXTRA); NORMAL promises no sync, PostgreSQL syncs
    its own log without holding anyone up."""
    return connection.vendor == "sqlite" and settings.SQLITE_SYNCHRONOUS in ("FULL", "EXTRA")


def _commit_without_sync(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=NORMAL")


class WalFlush:
    """Syncs the database's write-ahead log on one helper thread (syncs queue; a later one covers
    everything an earlier one would have)."""

    def __init__(self) -> None:
        database = Path(str(connection.settings_dict["NAME"]))
        self.log_file = database.with_name(f"{database.name}-wal")
        self.directory = database.parent
        self.inode: int | None = None
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-wal-flush")
        self.typical_seconds = 0.0  # running average of how long a sync takes
        # Every connection this process opens from now on (a broken one is replaced) commits
        # without a sync. The gateway's steps open theirs after this, on the loop's thread.
        connection_created.connect(_commit_without_sync, dispatch_uid="marketmsg-gateway-walflush")

    async def flush(self) -> None:
        """Returns once everything committed before the call is on disk; raises OSError if not."""
        if self.typical_seconds < INLINE_SYNC_BELOW:
            self._timed_sync()
        else:
            await asyncio.get_running_loop().run_in_executor(self.thread, self._timed_sync)

    def _timed_sync(self) -> None:
        started = time.perf_counter()
        try:
            self._sync()
        finally:
            spent = time.perf_counter() - started
            self.typical_seconds += SYNC_AVERAGE_WEIGHT * (spent - self.typical_seconds)

    def _sync(self) -> None:
        try:
            fd = os.open(self.log_file, os.O_RDONLY)
        except FileNotFoundError:
            return  # checkpointed into the (synced) database file, then removed
        try:
            os.fdatasync(fd)  # the frames and the file's size, as SQLite's own sync of the log
            inode = os.fstat(fd).st_ino
        finally:
            os.close(fd)
        if inode != self.inode:  # a log file this process has not seen: make its name durable too
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self.inode = inode

    def close(self) -> None:
        """Waits for a sync in progress: its mails are answered before the process ends."""
        self.thread.shutdown(wait=True)
        connection_created.disconnect(dispatch_uid="marketmsg-gateway-walflush")
