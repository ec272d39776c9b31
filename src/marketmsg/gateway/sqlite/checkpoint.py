"""Checkpoints of SQLite's write-ahead log on a helper thread, off the gateway's write path (ADR 15).

By default SQLite copies the log into the database file (a checkpoint, with two syncs) inside
the COMMIT that takes the log past 1,000 pages. In the gateway that COMMIT holds the writer turn,
so every fiftieth mail or so held the other processes' writes up for 25 ms, and on average a
stored mail held the turn 0.4 ms longer. The gateway's connections therefore never checkpoint;
this thread does, a few times a second, on a connection of its own. A passive checkpoint waits
for nobody and nobody waits for it, and it syncs the log before and the database file after
copying (``synchronous=FULL``). Measured again in 2026-12: without it the gateway took 1 KB mail
at 0.91 × the rate (ADR 24).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from django.db import connection
from django.db.backends.signals import connection_created

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.25


def _no_automatic_checkpoint(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=0")


class Checkpointer:
    def __init__(self) -> None:
        self.database = str(connection.settings_dict["NAME"])
        self.stopping = threading.Event()
        # Every connection this process opens from now on leaves checkpoints to this thread.
        connection_created.connect(_no_automatic_checkpoint, dispatch_uid="marketmsg-gateway-checkpoint")
        self.thread = threading.Thread(target=self._run, name="gateway-checkpoint", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        database = sqlite3.connect(self.database, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            database.execute("PRAGMA synchronous=FULL")
            while not self.stopping.wait(INTERVAL_SECONDS):
                try:
                    database.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:  # tried again next time; the log only grows meanwhile
                    log.warning("checkpoint of the database log failed: %s", error)
        finally:
            database.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)
        connection_created.disconnect(dispatch_uid="marketmsg-gateway-checkpoint")
