"""SQLite's one writer at a time, taken through a lock file that the gateway's processes share."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from django.db import connection


class WriterTurn:
    """The writer turn.

    SQLite itself makes a waiting writer poll with growing sleeps (up to 100 ms); a kernel lock
    queue hands the database over the moment the holder commits. The wait happens on a helper
    thread, so the event loop keeps serving sessions meanwhile, and the mails they finish join
    the batch that is waiting for its turn (ADR 5). PostgreSQL needs no turn.
    """

    def __init__(self) -> None:
        self.lock_file: IO[str] = open(f"{connection.settings_dict['NAME']}.write-lock", "a")  # noqa: SIM115
        self.waiter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-writer-turn")

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        try:
            fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no thread hand-off
        except BlockingIOError:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.waiter, fcntl.flock, self.lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.lock_file, fcntl.LOCK_UN)

    def close(self) -> None:
        self.waiter.shutdown(wait=True)
        self.lock_file.close()
