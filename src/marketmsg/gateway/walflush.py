"""FULL durability for the gateway's SQLite commits, with the fsync outside the write lock (ADR 12).

With ``synchronous=FULL`` SQLite syncs the write-ahead log inside every COMMIT, while it holds
the database's only write lock, and on the gateway's event-loop thread: the one writer at a time
spends most of its turn waiting for the disk, and the loop waits with it. Here the gateway's own
connection commits with ``synchronous=NORMAL`` (the frames are written to the log, not synced),
lets go of the lock, and then syncs the log file itself on a helper thread while the loop serves
other sessions and the next batch commits. A mail is answered ``250`` only after a sync that
began after its commit has finished, so the promise is FULL's: the rows survive a power loss.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created

log = logging.getLogger(__name__)


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
        # Every connection this process opens from now on (a broken one is replaced) commits
        # without a sync. The gateway's steps open theirs after this, on the loop's thread.
        connection_created.connect(_commit_without_sync, dispatch_uid="marketmsg-gateway-walflush")

    async def flush(self) -> None:
        """Returns once everything committed before the call is on disk; raises OSError if not."""
        await asyncio.get_running_loop().run_in_executor(self.thread, self._sync)

    def _sync(self) -> None:
        try:
            fd = os.open(self.log_file, os.O_RDONLY)
        except FileNotFoundError:
            return  # checkpointed into the (synced) database file, then removed
        try:
            os.fsync(fd)
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
