"""The gateway's own machinery: group commit, the database context, the fast address parser."""

from __future__ import annotations

import asyncio
import smtplib
import threading
import time
from collections.abc import Callable

import pytest
from aiosmtpd.smtp import SMTP
from django.conf import settings as django_settings
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


def test_a_process_with_open_sessions_waits_before_it_accepts_then_accepts_after_all(
    transactional_db, monkeypatch
):
    """Processes that share the listening socket: one with sessions open leaves a new connection
    to an idler one for a moment per session (ADR 24), and takes it itself if none does."""
    import socket

    from marketmsg.gateway import server as gateway_server

    monkeypatch.setattr(gateway_server, "ACCEPT_DELAY_PER_SESSION", 0.5)
    server = Gateway(listen("127.0.0.1", 0))
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
        wait_for(lambda: len(server.sessions) == 1)
        assert server.deferred_accepts == 0  # no session open: accepted at once

        clients.append(socket.create_connection(("127.0.0.1", port)))
        wait_for(lambda: server.deferred_accepts == 1)  # left for another process ...
        assert greeted(clients[-1])  # ... none took it: accepted after all
        wait_for(lambda: len(server.sessions) == 2)
    finally:
        for client in clients:
            client.close()
        server.stop()


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


sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's own machinery")


def test_a_mail_is_answered_only_once_its_blobs_are_synced_and_its_rows_committed(
    transactional_db, monkeypatch, settings
):
    """The batch's blobs reach the disk first, then its rows are committed (durable when the
    commit returns: SQLite synchronous=FULL, PostgreSQL's own log), then 250 (ADR 21, ADR 24)."""
    from marketmsg.blobs import filesystem

    synced = threading.Event()
    release = threading.Event()
    real_sync = filesystem.sync_written

    def held_sync() -> None:
        release.wait(timeout=30)
        real_sync()
        synced.set()

    monkeypatch.setattr(filesystem, "sync_written", held_sync)
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
        for _ in range(600):  # the mail's raw MIME reaches the blob store (an event, bounded)
            if filesystem.has_unsynced():
                break
            time.sleep(0.05)
        assert filesystem.has_unsynced()
        sender.join(timeout=0.5)
        assert sender.is_alive() and answers == [] and Message.objects.count() == 0  # nothing yet
        release.set()
        sender.join(timeout=30)
        assert answers == [{}] and synced.is_set() and Message.objects.count() == 1
        if connection.vendor == "sqlite":

            async def synchronous_level() -> int:
                def read() -> int:
                    with connections["default"].cursor() as cursor:
                        cursor.execute("PRAGMA synchronous")
                        return int(cursor.fetchone()[0])

                return server.handler.steps.context.run(read)

            level = asyncio.run_coroutine_threadsafe(synchronous_level(), server.loop).result(timeout=5)
            # The gateway keeps the configured mode (FULL in production: each commit syncs the log).
            assert level == {"NORMAL": 1, "FULL": 2, "EXTRA": 3}[django_settings.SQLITE_SYNCHRONOUS]
    finally:
        release.set()
        server.stop()


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


def test_when_the_blobs_cannot_be_synced_the_mail_is_answered_451_and_nothing_is_stored(
    transactional_db, monkeypatch, caplog
):
    from marketmsg.blobs import filesystem

    def failing_sync() -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(filesystem, "sync_written", failing_sync)
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
    assert "could not sync the blob store" in caplog.text
    assert Message.objects.count() == 0  # no row without its blob
