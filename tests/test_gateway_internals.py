"""The gateway's own machinery: group commit, the database context, the fast address parser."""

from __future__ import annotations

import asyncio
import smtplib
import threading
import time
from collections.abc import Callable

import pytest
from aiosmtpd.smtp import SMTP
from django.db import OperationalError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from marketmsg.conversations.errors import Refusal, Refused
from marketmsg.conversations.models import Message
from marketmsg.delivery.models import Delivery
from marketmsg.gateway.committer import commit_batch
from marketmsg.gateway.server import Gateway, GatewaySMTP, listen
from marketmsg.relay import inbound
from tests.conftest import crlf
from tests.support.mail import compose
from tests.support.personas import make_pair

pytestmark = pytest.mark.db

BUYER = "taro.yamada@example.jp"


def prepared(sender: str, to: str, subject: str) -> inbound.Prepared:
    raw = crlf(compose(sender, to, subject=subject))
    verdict, relay = inbound.check_recipient(to, sender)
    assert verdict == inbound.RecipientCheck.OK
    return inbound.prepare(raw, sender, [to], {to: relay})


def test_a_refusal_in_a_batch_leaves_the_other_mails_stored(transactional_db):
    pair = make_pair()
    good = prepared(BUYER, pair.seller_relay, "one")
    # Only the buyer may write to the seller's relay address: refused when it is stored.
    stranger = prepared("stranger@example.net", pair.seller_relay, "two")
    also_good = prepared(BUYER, pair.seller_relay, "three")

    outcomes = commit_batch(inbound.store, [good, stranger, also_good])

    assert [stored for stored, _ in outcomes] == [True, False, True]
    assert isinstance(outcomes[1][1], Refused) and outcomes[1][1].reason == Refusal.SENDER_NOT_BUYER
    assert sorted(Message.objects.values_list("subject", flat=True)) == ["one", "three"]
    assert Delivery.objects.count() == 2


def test_a_failed_commit_answers_every_mail_in_the_batch_with_the_error_and_stores_none(
    transactional_db, monkeypatch
):
    pair = make_pair()
    batch = [prepared(BUYER, pair.seller_relay, "one"), prepared(BUYER, pair.seller_relay, "two")]
    stranger = prepared("stranger@example.net", pair.seller_relay, "refused anyway")
    connection.ensure_connection()

    def failing_commit() -> None:
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(connection, "commit", failing_commit)
    outcomes = commit_batch(inbound.store, [*batch, stranger])
    monkeypatch.undo()

    assert [type(value) for _, value in outcomes] == [OperationalError, OperationalError, Refused]
    assert not any(stored for stored, _ in outcomes)
    assert Message.objects.count() == 0 and Delivery.objects.count() == 0


def test_a_batch_that_stores_cleanly_is_one_transaction_without_savepoints(transactional_db):
    pair = make_pair()
    batch = [prepared(BUYER, pair.seller_relay, f"mail {n}") for n in range(3)]

    with CaptureQueriesContext(connection) as statements:
        outcomes = commit_batch(inbound.store, batch)

    assert [stored for stored, _ in outcomes] == [True, True, True]
    assert Message.objects.count() == 3 and Delivery.objects.count() == 3
    sql = " ".join(q["sql"].upper() for q in statements.captured_queries)
    assert "SAVEPOINT" not in sql  # the savepoints come only with the retry after a failure


def test_a_failed_commit_of_a_clean_batch_answers_every_mail_with_the_error(transactional_db, monkeypatch):
    pair = make_pair()
    batch = [prepared(BUYER, pair.seller_relay, "one"), prepared(BUYER, pair.seller_relay, "two")]
    connection.ensure_connection()

    def failing_commit() -> None:
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(connection, "commit", failing_commit)
    outcomes = commit_batch(inbound.store, batch)
    monkeypatch.undo()

    assert [type(value) for _, value in outcomes] == [OperationalError, OperationalError]
    assert Message.objects.count() == 0 and Delivery.objects.count() == 0


def test_a_process_leaves_a_new_connection_to_a_process_with_fewer_sessions(transactional_db, monkeypatch):
    """Least sessions wins (ADR 15): with another process less busy, this one waits before it
    accepts (and then accepts after all, in case the other is stuck); otherwise it accepts at once."""
    import socket

    from marketmsg.gateway import server as gateway_server
    from marketmsg.gateway.balance import LoadTable

    monkeypatch.setattr(gateway_server, "BALANCE_WAIT_PER_SESSION", 0.5)
    monkeypatch.setattr(gateway_server, "BALANCE_WAIT_MAX", 0.5)
    fd = LoadTable.create(2)
    mine, other = LoadTable(fd, 2, 0), LoadTable(fd, 2, 1)
    server = Gateway(listen("127.0.0.1", 0), mine)
    server.start()
    port = server.listener.getsockname()[1]

    def greeted(client: socket.socket) -> bool:
        client.settimeout(60)  # only ends a hung run; nothing here depends on how fast it answers
        return client.recv(100).startswith(b"220")

    def wait_for(condition: Callable[[], bool]) -> None:
        for _ in range(6000):  # an event, not a time: the bound only ends a hung run
            if condition():
                return
            time.sleep(0.01)
        raise AssertionError("the gateway never reached the expected state")

    clients = []
    try:
        clients.append(socket.create_connection(("127.0.0.1", port)))
        assert greeted(clients[-1])
        wait_for(lambda: mine.counts[0] == 1)
        assert server.deferred_accepts == 0  # both had none: accepted at once
        assert list(mine.counts) == [1, 0] and other.fewest_elsewhere() == 1

        clients.append(socket.create_connection(("127.0.0.1", port)))
        wait_for(lambda: server.deferred_accepts == 1)  # left for the idle process ...
        assert greeted(clients[-1])  # ... which never took it: accepted after all
        wait_for(lambda: mine.counts[0] == 2)

        other.publish(5)  # the other process is busier now: no wait
        clients.append(socket.create_connection(("127.0.0.1", port)))
        assert greeted(clients[-1])
        assert server.deferred_accepts == 1
    finally:
        for client in clients:
            client.close()
        server.stop()
        mine.close()
        other.close()


def test_sessions_share_the_gateways_database_connections_and_stop_closes_them(transactional_db, settings):
    settings.GATEWAY_DATABASE_THREADS = 2  # PostgreSQL: two threads, each with one connection
    pair = make_pair()
    server = Gateway(listen("127.0.0.1", 0))
    server.start()
    port = server.listener.getsockname()[1]
    mail = crlf(compose(BUYER, pair.seller_relay))
    answers: list[object] = []

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            answers.append(smtp.sendmail(BUYER, [pair.seller_relay], mail))

    senders = [threading.Thread(target=send) for _ in range(4)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    assert answers == [{}] * 4 and Message.objects.count() == 4

    if connection.vendor == "sqlite":  # one connection, used on the loop's thread

        async def gateway_database() -> BaseDatabaseWrapper:
            return server.handler.steps.context.run(lambda: connections["default"])

        database = asyncio.run_coroutine_threadsafe(gateway_database(), server.loop).result(timeout=5)
        assert database is not connections["default"] and database.connection is not None
        server.stop()
        assert database.connection is None
        return
    # PostgreSQL: four SMTP sessions, at most one connection per database thread.
    assert server.handler.steps.threads == 2
    assert 1 <= (other_sessions() or 0) <= 2
    server.stop()
    deadline = time.monotonic() + 120  # a bound that only ends a hung run
    while other_sessions() and time.monotonic() < deadline:  # a backend ends just after its client
        time.sleep(0.05)
    assert other_sessions() == 0


def other_sessions() -> int | None:
    """Database sessions besides the test's own (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


PATHS = st.one_of(
    st.text(max_size=40),
    st.builds(
        "<{}@{}>{}".format,
        st.from_regex(r"[A-Za-z0-9.+_'-]{1,20}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9.-]{1,20}", fullmatch=True),
        st.sampled_from(["", " SIZE=1000", "  BODY=8BITMIME SMTPUTF8", " ", "\tX", "x"]),
    ),
)


@settings(max_examples=400, deadline=None)
@given(PATHS)
def test_fast_address_parser_agrees_with_aiosmtpd(arg: str) -> None:
    smtp = GatewaySMTP.__new__(GatewaySMTP)
    smtp.local_part_limit = 0
    try:
        expected = SMTP._getaddr(smtp, arg)
    except (IndexError, ValueError):  # the standard library's parser trips on some input ("0@")
        expected = (None, None)  # which the gateway answers as a syntax error
    assert smtp._getaddr(arg) == expected


def test_a_conversation_created_twice_at_once_is_one_conversation(db):
    from marketmsg import rows
    from marketmsg.conversations.models import Conversation
    from marketmsg.conversations.services import conversation_for

    pair = make_pair()
    first = conversation_for(pair.seller, pair.buyer)
    # What a second process does when it lost the race: its insert clashes and writes nothing.
    assert rows.save_new_unless_clash(Conversation(seller=pair.seller, buyer=pair.buyer)) is None
    assert conversation_for(pair.seller, pair.buyer).pk == first.pk
    by_order = conversation_for(pair.seller, pair.buyer, order=pair.order)
    again = Conversation(seller=pair.seller, buyer=pair.buyer, order=pair.order)
    assert rows.save_new_unless_clash(again) is None
    assert by_order.pk != first.pk
    assert Conversation.objects.filter(seller=pair.seller, buyer=pair.buyer).count() == 2


def test_an_address_that_trips_the_standard_parser_gets_a_syntax_error(gateway):
    with smtplib.SMTP(gateway.host, gateway.port, timeout=10) as smtp:
        smtp.ehlo("client.example")
        code, reply = smtp.docmd("MAIL", "FROM:0@")
    assert code == 553, reply


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="the writer turn is SQLite's")
def test_when_the_writer_turn_cannot_be_taken_every_waiting_mail_is_answered_not_left_hanging():
    from contextlib import asynccontextmanager

    from django.db import DatabaseError

    from marketmsg.gateway.committer import GroupCommit

    stored: list[object] = []

    @asynccontextmanager
    async def broken_turn():  # type: ignore[no-untyped-def]
        raise OSError("lock file on a full disk")
        yield

    async def run_here(func, *args):  # type: ignore[no-untyped-def]
        return func(*args)

    async def two_mails() -> list[object]:
        commits = GroupCommit(stored.append, run=run_here)
        assert commits.sqlite is not None
        commits.sqlite.turn = broken_turn  # type: ignore[assignment]
        return await asyncio.wait_for(
            asyncio.gather(commits.store("one"), commits.store("two"), return_exceptions=True), timeout=5
        )

    answers = asyncio.run(two_mails())
    assert stored == []
    assert all(isinstance(answer, DatabaseError) for answer in answers), answers


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="the writer turn is SQLite's")
def test_a_turn_that_fails_after_the_commit_still_answers_the_committed_mails():
    from contextlib import asynccontextmanager

    from marketmsg.gateway.committer import GroupCommit

    stored: list[object] = []

    @asynccontextmanager
    async def turn_that_fails_on_release():  # type: ignore[no-untyped-def]
        yield
        raise OSError("unlock failed")

    async def run(func, store, items):  # type: ignore[no-untyped-def]
        return [(True, store(item)) for item in items]  # what commit_batch returns when all went well

    async def two_mails() -> list[object]:
        commits = GroupCommit(stored.append, run=run)
        assert commits.sqlite is not None
        commits.sqlite.turn = turn_that_fails_on_release  # type: ignore[assignment]
        return await asyncio.wait_for(
            asyncio.gather(commits.store("one"), commits.store("two"), return_exceptions=True), timeout=5
        )

    assert asyncio.run(two_mails()) == [None, None]  # both stored, both told so
    assert stored == ["one", "two"]


sqlite_only = pytest.mark.skipif(
    "connection.vendor != 'sqlite'", reason="PostgreSQL syncs its own log; no flush of ours"
)


@sqlite_only
def test_on_sqlite_a_mail_is_answered_only_once_the_log_is_synced(transactional_db, monkeypatch, settings):
    """FULL durability with the sync outside the write lock (ADR 12): the rows are committed
    first, and 250 waits for a sync of the write-ahead log that began after the commit."""
    import os

    from marketmsg.gateway.sqlite import walflush

    settings.SQLITE_SYNCHRONOUS = "FULL"

    synced = threading.Event()
    release = threading.Event()
    real_sync = walflush.WalFlush._sync

    def held_sync(self: walflush.WalFlush) -> None:
        release.wait(timeout=30)
        real_sync(self)
        synced.set()

    monkeypatch.setattr(walflush.WalFlush, "_sync", held_sync)
    pair = make_pair()
    server = Gateway(listen("127.0.0.1", 0))
    server.start()
    answers: list[object] = []

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", server.listener.getsockname()[1], timeout=30) as smtp:
            answers.append(smtp.sendmail(BUYER, [pair.seller_relay], crlf(compose(BUYER, pair.seller_relay))))

    sender = threading.Thread(target=send)
    sender.start()
    try:
        deadline = threading.Event()
        for _ in range(100):  # the commit happens; the answer must not
            if Message.objects.exists():
                break
            deadline.wait(0.05)
        assert Message.objects.count() == 1
        sender.join(timeout=0.5)
        assert sender.is_alive() and answers == [] and not synced.is_set()
        release.set()
        sender.join(timeout=30)
        assert answers == [{}] and synced.is_set()

        async def pragma_and_log() -> tuple[int, int | None]:
            def read() -> tuple[int, int | None]:
                with connections["default"].cursor() as cursor:
                    cursor.execute("PRAGMA synchronous")
                    return cursor.fetchone()[0], server.handler.commits.sqlite.log.inode  # type: ignore[union-attr]

            return server.handler.steps.context.run(read)

        level, inode = asyncio.run_coroutine_threadsafe(pragma_and_log(), server.loop).result(timeout=5)
        assert level == 1  # NORMAL: the commit itself does not sync, the flush does
        wal = f"{connection.settings_dict['NAME']}-wal"
        assert inode == os.stat(wal).st_ino  # it synced the database's real log file
    finally:
        release.set()
        server.stop()


@sqlite_only
def test_a_fast_log_sync_runs_on_the_event_loop_and_a_slow_one_on_a_helper_thread(monkeypatch, settings):
    """A sync of a fraction of a millisecond costs less than handing it to a thread and back; a
    slow disk's syncs go to the thread so that the loop keeps serving meanwhile (ADR 15)."""
    from marketmsg.gateway.sqlite import walflush

    settings.SQLITE_SYNCHRONOUS = "FULL"
    threads: list[str] = []
    seconds = [0.0]

    def timed_sync(self: walflush.WalFlush) -> None:
        threads.append(threading.current_thread().name)
        time.sleep(seconds[0])

    monkeypatch.setattr(walflush.WalFlush, "_sync", timed_sync)
    flush = walflush.WalFlush()

    async def flushes(count: int) -> str:
        for _ in range(count):
            await flush.flush()
        return threading.current_thread().name

    try:
        loop_thread = asyncio.run(flushes(3))
        assert threads == [loop_thread] * 3
        seconds[0] = 0.02  # the disk turns slow
        asyncio.run(flushes(10))
        assert threads[3] == loop_thread  # measured on the loop once, then moved
        assert threads[-1].startswith("gateway-wal-flush")
        seconds[0] = 0.0  # and fast again
        asyncio.run(flushes(30))
        assert threads[-1] == loop_thread
    finally:
        flush.close()


@sqlite_only
def test_the_log_is_checkpointed_by_the_gateways_helper_not_by_its_commits(transactional_db):
    """The gateway's own commits never checkpoint (that held the writer turn up to 25 ms); its
    helper thread copies the log into the database file a few times a second (ADR 15)."""
    import struct
    from pathlib import Path

    from marketmsg.gateway.sqlite import checkpoint

    pair = make_pair()
    server = Gateway(listen("127.0.0.1", 0))
    server.start()
    try:
        with smtplib.SMTP("127.0.0.1", server.listener.getsockname()[1], timeout=30) as smtp:
            for _ in range(3):
                smtp.sendmail(BUYER, [pair.seller_relay], crlf(compose(BUYER, pair.seller_relay)))

        async def automatic_checkpoint() -> int:
            def read() -> int:
                with connections["default"].cursor() as cursor:
                    cursor.execute("PRAGMA wal_autocheckpoint")
                    return int(cursor.fetchone()[0])

            return server.handler.steps.context.run(read)

        assert asyncio.run_coroutine_threadsafe(automatic_checkpoint(), server.loop).result(timeout=5) == 0
        assert Message.objects.count() == 3
        shm = Path(f"{connection.settings_dict['NAME']}-shm")

        def log_index() -> tuple[int, int]:
            # The log index (the -shm file, SQLite's file format 4.5): frames in the log, and how
            # many of them a checkpoint has copied into the database file. Read, not checkpointed.
            index = shm.read_bytes()
            return struct.unpack_from("=I", index, 16)[0], struct.unpack_from("=I", index, 96)[0]

        # Waits for the event (the helper copied every frame), however slow the machine; the
        # bound only ends a run whose helper never checkpoints.
        for _ in range(int(60 / checkpoint.INTERVAL_SECONDS)):
            frames, copied = log_index()
            if frames and copied == frames:
                break
            time.sleep(checkpoint.INTERVAL_SECONDS)
        assert frames > 0 and copied == frames
    finally:
        server.stop()


def test_with_normal_durability_the_gateway_answers_without_a_sync_of_its_own(transactional_db, settings):
    """NORMAL promises no sync: the gateway then neither syncs the log nor changes the mode."""
    from marketmsg.gateway.sqlite import walflush

    settings.SQLITE_SYNCHRONOUS = "NORMAL"
    assert not walflush.wanted()
    server = Gateway(listen("127.0.0.1", 0))
    server.start()
    try:
        machinery = server.handler.commits.sqlite  # None on PostgreSQL: no log of ours to sync
        assert machinery is None or not machinery.syncs_log
    finally:
        server.stop()


@sqlite_only
def test_when_the_log_cannot_be_synced_the_mail_is_answered_451(
    transactional_db, monkeypatch, caplog, settings
):
    from marketmsg.gateway.sqlite import walflush

    settings.SQLITE_SYNCHRONOUS = "FULL"

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(walflush.os, "fdatasync", failing_fsync)
    pair = make_pair()
    server = Gateway(listen("127.0.0.1", 0))
    server.start()
    try:
        with (
            smtplib.SMTP("127.0.0.1", server.listener.getsockname()[1], timeout=30) as smtp,
            pytest.raises(smtplib.SMTPDataError) as refused,
        ):
            smtp.sendmail(BUYER, [pair.seller_relay], crlf(compose(BUYER, pair.seller_relay)))
    finally:
        server.stop()
    assert refused.value.smtp_code == 451 and b"4.3.0" in refused.value.smtp_error
    assert "could not sync blobs or the database log" in caplog.text
