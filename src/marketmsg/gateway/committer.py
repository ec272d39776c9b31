"""Group commit for the gateway: the mails that are ready together are stored in one transaction.

Each DATA hands its prepared mail to ``GroupCommit.store`` and waits. The batch is written once
the process has its writer turn, in one transaction, and only then are the waiting SMTP sessions
answered. A refused mail (or one that hits an error) makes the batch be written again with each
mail in a savepoint of its own, so that it alone is answered with its refusal (ADR 16); a failed
commit answers the whole batch with a temporary failure. So no mail is answered 250 before its
own rows are durable, and under load one commit (one fsync) covers several mails (ADR 5).

Blobs (the file store, ADR 21): each mail wrote its raw MIME and files to the page cache before
it joined a batch, and one sync of the file system covers a whole batch's, right before the
batch's commit (on SQLite inside the writer turn, once the batch is taken). The commit is durable
when it returns (SQLite ``synchronous=FULL``, PostgreSQL's own log), so when a mail is answered,
its blobs and its rows are on disk, in that order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import DatabaseError, connection, transaction

from marketmsg.blobs import filesystem
from marketmsg.gateway.sqlite import Machinery

log = logging.getLogger(__name__)

MAX_BATCH = 32

Outcome = tuple[bool, Any]  # (stored, result) or (not stored, the exception to answer with)


class BatchAborted(DatabaseError):
    """The batch's transaction could not be committed; no mail in it was stored."""


def commit_batch(store: Callable[[Any], Any], items: list[Any]) -> list[Outcome]:
    """Store every item in one transaction; one outcome per item, in order.

    The batch is first written without savepoints: nearly every mail stores cleanly, and two
    statements per mail (SAVEPOINT, RELEASE) through Django's savepoint handling cost about as
    much as one of the mail's own inserts. When any mail fails, that transaction is rolled back
    and the batch is written again with a savepoint per mail, so that only the failing mail is
    answered with its refusal or error and the others are stored."""
    if len(items) > 1:
        outcomes = _all_or_nothing(store, items)
        if outcomes is not None:
            return outcomes
    return _each_in_savepoint(store, items)


def _as_failure(error: BaseException) -> DatabaseError:
    """What the mails of a batch that was not stored are answered with (a temporary failure)."""
    return error if isinstance(error, DatabaseError) else BatchAborted(repr(error))


class _OneFailed(Exception):
    """Rolls the savepoint-free attempt back when one of its mails could not be stored."""


def _all_or_nothing(store: Callable[[Any], Any], items: list[Any]) -> list[Outcome] | None:
    """The batch in one transaction without savepoints; None (nothing stored) if any mail failed,
    and the failure of BEGIN or COMMIT itself as the outcome of every mail."""
    try:
        with transaction.atomic():
            results = []
            for item in items:
                try:
                    results.append(store(item))
                except Exception as error:
                    raise _OneFailed from error
    except _OneFailed:
        return None
    except Exception as error:  # BEGIN or COMMIT failed: nothing in the batch is stored
        log.warning("batch of %d mail(s) not stored: %s", len(items), error)
        failure = _as_failure(error)
        return [(False, failure)] * len(items)
    return [(True, result) for result in results]


def _each_in_savepoint(store: Callable[[Any], Any], items: list[Any]) -> list[Outcome]:
    """Every item in one transaction, each in a savepoint (none for a batch of one: its refusal
    rolls back the whole transaction), so that one failure leaves the others stored."""
    outcomes: list[Outcome] = []
    try:
        with transaction.atomic():
            for item in items:
                try:
                    with transaction.atomic(savepoint=len(items) > 1):
                        outcomes.append((True, store(item)))
                except Exception as error:  # answered to that mail alone
                    outcomes.append((False, error))
            if connection.needs_rollback:
                # A savepoint could not be rolled back, so Django would now roll the whole
                # transaction back without an error: none of the stored mails may say 250.
                raise BatchAborted("a savepoint could not be rolled back; the batch was not stored")
    except Exception as error:  # BEGIN or COMMIT failed: nothing in the batch is stored
        failure = _as_failure(error)
        log.warning("batch of %d mail(s) not stored: %s", len(items), error)
        # A refusal stands (it stored nothing and needed no commit); everything else failed.
        not_reached = len(items) - len(outcomes)
        outcomes = [(False, failure) if ok else (ok, value) for ok, value in outcomes]
        outcomes += [(False, failure)] * not_reached
    return outcomes


class GroupCommit:
    """Collects prepared mails on the event loop and commits them in batches (see module doc).

    ``run`` awaits one synchronous database step (the handler's DatabaseSteps). On PostgreSQL up
    to ``parallel`` batches are stored at once, each on its own connection (steps on threads);
    SQLite stores one batch at a time, in its writer turn (gateway.sqlite).
    """

    def __init__(
        self,
        store: Callable[[Any], Any],
        run: Callable[..., Awaitable[Any]],
        max_batch: int = MAX_BATCH,
        parallel: int = 1,
    ) -> None:
        self.store_one = store
        self.run = run
        self.max_batch = max_batch
        self.parallel = parallel
        self.pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self.draining = False
        self.drainer: asyncio.Task[None] | None = None
        self.sqlite = Machinery.for_this_database()  # None on PostgreSQL
        self.blob_sync = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-blob-sync")
        self.background: set[asyncio.Task[Any]] = set()  # batches being stored (PostgreSQL)
        self.storing: set[asyncio.Task[Any]] = set()  # of those, batches on a database thread

    async def store(self, item: Any) -> Any:
        """The result of storing ``item``, once its batch is committed; raises what storing raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((item, future))
        if not self.draining:
            self.draining = True
            self.drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.pending:
                await asyncio.sleep(0)  # the sessions that become ready in this turn join the batch
                if self.sqlite is not None:  # one batch at a time, in the writer turn
                    if not await self._batch_in_turn():
                        return
                    continue
                if len(self.storing) >= self.parallel:
                    await asyncio.wait(self.storing, return_when=asyncio.FIRST_COMPLETED)
                    continue
                task = self._background(self._store_taken(self._take()))
                self.storing.add(task)
                task.add_done_callback(self.storing.discard)
        finally:
            self.draining = False

    def _take(self) -> list[tuple[Any, asyncio.Future[Any]]]:
        taken, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
        return taken

    async def _batch_in_turn(self) -> bool:
        """One batch, taken once the writer turn is ours (mails that arrive while waiting join it).
        False when the turn failed and every waiting mail was answered with the failure."""
        assert self.sqlite is not None
        taken: list[tuple[Any, asyncio.Future[Any]]] = []
        outcomes: list[Outcome] | None = None
        try:
            async with self.sqlite.turn():
                taken = self._take()
                await self._blobs_on_disk()  # the batch's blobs, then its rows
                outcomes = await self.run(commit_batch, self.store_one, [item for item, _ in taken])
        except BaseException as error:  # no turn (or shutdown): answer every waiting session
            failure = _as_failure(error)
            rest, self.pending = self.pending, []
            # Outcomes that exist are true: that batch was committed (or not) already.
            _settle(taken, outcomes or [(False, failure)] * len(taken))
            _settle(rest, [(False, failure)] * len(rest))
            if not isinstance(error, Exception):
                raise
            return False
        _settle(taken, outcomes)
        return True

    async def _store_taken(self, taken: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        """One batch on a database thread of its own (PostgreSQL: no writer turn to wait for)."""
        try:
            await self._blobs_on_disk()  # the batch's blobs, then its rows
            outcomes = await self.run(commit_batch, self.store_one, [item for item, _ in taken])
        except BaseException as error:  # the thread pool is gone (shutdown): nothing was stored
            failure = _as_failure(error)
            _settle(taken, [(False, failure)] * len(taken))
            if not isinstance(error, Exception):
                raise
            return
        _settle(taken, outcomes)

    async def _blobs_on_disk(self) -> None:
        """Every blob written by this process so far is durable (one sync of the file system);
        BatchAborted when it could not be made so: the senders are told to try again, and the
        batch is not committed (no row without its blob)."""
        if not filesystem.has_unsynced():
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self.blob_sync, filesystem.sync_written)
        except OSError as error:
            log.error("could not sync the blob store; the batch is answered 451: %s", error)
            raise BatchAborted(f"the blob store could not be synced: {error}") from error

    def _background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def finish(self) -> None:
        """At shutdown: answer the mails whose batch is being stored before sessions end."""
        while self.background:
            await asyncio.gather(*self.background, return_exceptions=True)

    def close(self) -> None:
        self.blob_sync.shutdown(wait=True)
        if self.sqlite is not None:
            self.sqlite.close()


def _settle(batch: list[tuple[Any, asyncio.Future[Any]]], outcomes: list[Outcome]) -> None:
    for (_, future), (stored, value) in zip(batch, outcomes, strict=True):
        if future.done():  # the client went away; what was stored stays stored
            continue
        if stored:
            future.set_result(value)
        else:
            future.set_exception(value)
