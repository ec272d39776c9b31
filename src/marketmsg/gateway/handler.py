"""The aiosmtpd handler: SMTP words only. Decisions are made in relay.inbound and the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.message import Message as MailMessage
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, connections

from marketmsg import observability
from marketmsg.addresses.models import RelayAddress
from marketmsg.blobs import filesystem
from marketmsg.conversations.errors import Refused
from marketmsg.gateway import limits, replies
from marketmsg.gateway.committer import GroupCommit
from marketmsg.gateway.sqlite import steps
from marketmsg.mail import parsing
from marketmsg.mailauth import inbound as mailauth
from marketmsg.mailauth.inbound import Verdict
from marketmsg.relay import inbound
from marketmsg.relay.inbound import RecipientCheck

log = logging.getLogger(__name__)

T = TypeVar("T")

RCPT_REPLIES = {
    RecipientCheck.OK: replies.OK_RECIPIENT,
    RecipientCheck.BOUNCE: replies.OK_RECIPIENT,
    RecipientCheck.UNKNOWN: replies.UNKNOWN_RECIPIENT,
    RecipientCheck.NOT_OUR_DOMAIN: replies.NOT_OUR_DOMAIN,
    RecipientCheck.SENDER_BLOCKED: replies.SENDER_BLOCKED,
}


def _counted(reply: str) -> str:
    """Every reply is counted by its code (marketmsg_smtp_replies_total)."""
    observability.SMTP_REPLIES.labels(reply[:3]).inc()
    return reply


def _sender(envelope: Envelope) -> str:
    """The envelope sender without brackets; '' for the null sender of bounces."""
    return (envelope.mail_from or "").strip().strip("<>")


def _peer_ip(session: Session) -> str:
    return str(session.peer[0]) if isinstance(session.peer, tuple) else str(session.peer or "")


def _out_of_space(error: BaseException) -> bool:
    """A full disk or quota: from the file system, or from the database that could not write."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error).lower()
    return isinstance(error, DatabaseError) and ("disk is full" in text or "no space left" in text)


def _known_relays(envelope: Envelope) -> dict[str, RelayAddress]:
    """Relay addresses found at RCPT, kept on the envelope for DATA (reset with the envelope)."""
    if not hasattr(envelope, "marketmsg_relays"):
        envelope.marketmsg_relays = {}  # type: ignore[attr-defined]
    return envelope.marketmsg_relays  # type: ignore[attr-defined,no-any-return]


def _parsed_if_small(raw: bytes) -> MailMessage | None:
    """A small mail is parsed once, here, for the sender check and the pipeline both; a large one
    is parsed by the pipeline alone (on PostgreSQL off the loop's thread)."""
    if len(raw) > mailauth.INLINE_MAX_BYTES:
        return None
    try:
        return parsing.parse(raw)
    except Exception:  # the pipeline parses it again and answers whatever goes wrong there
        log.exception("could not parse a mail of %d bytes before its sender check", len(raw))
        return None


class DatabaseSteps:
    """Runs the gateway's database work in short synchronous steps: on SQLite right on the event
    loop's thread, on PostgreSQL on a few threads of its own.

    SQLite: one thread per process. Handing work to other threads made them queue for Python's
    global lock on every SQLite call, which cost more than the work (ADR 5). Steps never await
    inside a transaction, so sessions sharing the connection never interleave in one. Every step
    runs in one fixed context: Django keeps connections per asyncio task otherwise, which would give
    each SMTP session a connection of its own and leave it open when the session ends.

    PostgreSQL: each statement is a round trip over the network, and the loop waiting on it would
    stop every session of the process (ADR 13). A step runs on one of ``threads`` threads, each
    with its own connection; the global lock is released while a thread waits for the server.
    """

    def __init__(self, threads: int = 0) -> None:
        self.context = contextvars.Context()
        self.threads = threads
        self.pool = (
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gateway-db") if threads else None
        )

    async def __call__(self, func: Callable[..., T], *args: Any) -> T:
        if self.pool is None:
            return self.context.run(steps.step, func, *args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, _fresh_connection_then, func, *args)

    async def close(self) -> None:
        """Close every connection on the thread that opened it (Django refuses it from another)."""
        if self.pool is None:
            self.context.run(connections.close_all)
            return
        everyone = threading.Barrier(self.threads)

        def close_mine() -> None:
            # The barrier holds each thread until all have one: so every thread closes its own.
            with contextlib.suppress(threading.BrokenBarrierError):
                everyone.wait(timeout=5)
            connections.close_all()

        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self.pool, close_mine) for _ in range(self.threads)),
            return_exceptions=True,
        )
        self.pool.shutdown(wait=False)


def _fresh_connection_then(func: Callable[..., T], *args: Any) -> T:
    close_old_connections()  # drop a connection the database has closed before using it
    return func(*args)


def database_threads() -> int:
    """0 on SQLite (steps on the loop's thread); on PostgreSQL the configured thread count."""
    if connection.vendor == "sqlite":
        return 0
    return max(1, settings.GATEWAY_DATABASE_THREADS)


class RelayHandler:
    def __init__(self, max_recipients: int) -> None:
        # Each mail writes blobs; the group commit syncs a batch's together (gateway.committer).
        filesystem.defer_syncs()
        self.max_recipients = max_recipients
        threads = database_threads()
        self.steps = DatabaseSteps(threads)
        self.commits = GroupCommit(inbound.store, run=self.steps, parallel=max(1, threads))
        self.auth_threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mailauth")
        self.blob_threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="blobs")
        self.limits = limits.Limits(limits.from_settings())

    async def _authenticate(
        self, raw: bytes, parsed: MailMessage | None, session: Session, envelope: Envelope
    ) -> Verdict:
        """SPF, DKIM and DMARC (SPEC F1), in a thread: they wait on DNS, not on the database."""
        peer = _peer_ip(session)
        helo, sender = session.host_name or "", _sender(envelope)
        try:
            # A sender seen recently is checked from cached DNS right here: a hand-off to a thread
            # costs more than the check, and the threads contend for Python's lock with the loop.
            known = mailauth.check_from_cache(raw, peer, helo, sender, parsed)
            if known is not None:
                return known
            return await asyncio.get_running_loop().run_in_executor(
                self.auth_threads, mailauth.check, raw, peer, helo, sender, parsed
            )
        except Exception:
            # A bug here must not lose mail: it is accepted and the verdict says so for staff.
            log.exception("sender authentication failed unexpectedly")
            return Verdict(dmarc="temperror", source="error")

    async def close(self) -> None:
        """At shutdown, on the event loop's thread: close the database connection."""
        await self.commits.finish()
        self.commits.close()
        self.auth_threads.shutdown(wait=False, cancel_futures=True)
        self.blob_threads.shutdown(wait=False, cancel_futures=True)
        await self.steps.close()

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if not self.limits.mail_from(_peer_ip(session)):
            return _counted(replies.IP_RATE)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        return _counted(await self._rcpt(envelope, address))

    def _over_limit(self, envelope: Envelope, address: str) -> str | None:
        hit = self.limits.recipient(_sender(envelope), address)
        if hit is not None:
            log.info("RCPT deferred: the %s rate limit was reached", hit)
        return {None: None, "sender": replies.SENDER_RATE, "relay": replies.RELAY_RATE}[hit]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return _counted(await self._data(session, envelope))

    async def _rcpt(self, envelope: Envelope, address: str) -> str:
        if any(address.lower() == named.lower() for named in envelope.rcpt_tos):
            return replies.DUPLICATE_RECIPIENT  # accepted once already: one copy (RFC 5321 3.3)
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        try:
            verdict, relay = await self.steps(inbound.check_recipient, address, _sender(envelope))
        except DatabaseError:
            log.warning("database unavailable at RCPT", exc_info=True)
            return replies.TEMPORARY_FAILURE
        if verdict == RecipientCheck.OK and (over := self._over_limit(envelope, address)):
            return over
        if verdict in (RecipientCheck.OK, RecipientCheck.BOUNCE):
            envelope.rcpt_tos.append(address)
            if relay is not None:
                _known_relays(envelope)[address] = relay
        return RCPT_REPLIES[verdict]

    async def _data(self, session: Session, envelope: Envelope) -> str:
        if not envelope.rcpt_tos:
            return replies.NO_VALID_RECIPIENTS
        raw = envelope.original_content or b""
        parsed = _parsed_if_small(raw)
        verdict = await self._authenticate(raw, parsed, session, envelope)
        if verdict.refused:
            log.info("refused mail failing DMARC (%s, policy %s)", verdict.summary(), verdict.policy)
            return replies.dmarc_refused(verdict.from_domain, verdict.policy)
        try:
            # The raw MIME goes to the blob store first. An S3 PUT waits on the network, so it runs
            # on a thread; a file-store write only reaches the page cache (the group commit syncs
            # a batch's blobs together), which costs less than a hand-off to a thread (ADR 21).
            if settings.BLOB_STORE == "s3":
                raw_blob = await asyncio.get_running_loop().run_in_executor(
                    self.blob_threads, inbound.write_raw, raw, list(envelope.rcpt_tos)
                )
            else:
                raw_blob = inbound.write_raw(raw, list(envelope.rcpt_tos))
            # Parsing, scrubbing and threading only read, so they run outside the write transaction
            # (beside other processes' writes); the writes then join the next group commit.
            prepared = await self.steps(
                inbound.prepare,
                raw,
                _sender(envelope),
                list(envelope.rcpt_tos),
                _known_relays(envelope),
                verdict.as_dict(),
                parsed,
                raw_blob or "",
            )
            receipt = await self.commits.store(prepared)
        except Refused as refusal:
            log.info("refused mail for %d recipient(s): %s", len(envelope.rcpt_tos), refusal.reason.value)
            return replies.refused(refusal.reason, refusal.detail)
        except Exception as error:
            if _out_of_space(error):  # the disk (or the database's) is full: nothing was kept
                log.error("storage full: mail for %d recipient(s) deferred", len(envelope.rcpt_tos))
                return replies.NO_SPACE
            if isinstance(error, DatabaseError):
                log.warning("database unavailable at DATA", exc_info=True)
                return replies.TEMPORARY_FAILURE
            # A bug must never turn into a lost message: the sender's server will try again.
            log.exception("unexpected error while storing a message (%d bytes)", len(raw))
            return replies.TEMPORARY_FAILURE
        log.info(
            "stored %d message(s), %d held, %d bounce(s)",
            len(receipt.message_ids),
            receipt.held,
            receipt.bounces,
            extra={"message_ids": receipt.message_ids},
        )
        if receipt.blocked_rules:
            log.info("mail blocked by the communication guidelines: %s", " ".join(receipt.blocked_rules))
            return replies.guidelines_blocked(receipt.blocked_rules)
        if receipt.message_ids and receipt.held == len(receipt.message_ids):
            return replies.OK_HELD
        return replies.OK_BOUNCE if not receipt.message_ids else replies.OK_STORED
