"""Starting the SMTP gateway on its own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import re
import socket
import sys
import threading
import time
from typing import AnyStr

from aiosmtpd.smtp import SMTP
from django.conf import settings

from marketmsg import observability
from marketmsg.gateway import japanese, replies
from marketmsg.gateway.handler import RelayHandler

log = logging.getLogger(__name__)

# A dot-atom address in angle brackets, and what follows it (the ESMTP parameters).
_SIMPLE_PATH = re.compile(
    r"\s*<(([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)>(.*)\Z",
    re.DOTALL,
)


class GatewaySMTP(SMTP):
    sessions: set[GatewaySMTP]  # the process's open sessions, which decide when it accepts
    peer_ip = ""  # counted in the handler's limits while the session lasts
    # RFC 5321 allows 1000 octets a line, but real mail (one-line HTML, unwrapped base64) often has
    # longer ones and a receiving MTA is expected to cope; outgoing mail is re-encoded to 998.
    line_length_limit = 64 * 1024

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # The common "<local@domain> PARAMS" without quoting, comments or route: the full RFC 5322
        # parser aiosmtpd uses costs more CPU than our whole database lookup, twice per message.
        simple = _SIMPLE_PATH.match(arg)
        if (
            simple is None
            or not simple[3].isprintable()
            or (self.local_part_limit and len(simple[2]) > self.local_part_limit)
        ):
            try:
                return super()._getaddr(arg)  # type: ignore[no-any-return]
            except (IndexError, ValueError):
                # The standard library's address parser trips over some hostile input ("0@"):
                # answer it as the syntax error it is rather than with a 500 and a stack trace.
                return None, None
        return simple[1], simple[3].lstrip(" ")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.sessions.discard(self)
        if self.peer_ip:
            self.event_handler.limits.disconnect(self.peer_ip)
            self.peer_ip = ""
        super().connection_lost(error)

    async def push(self, status: AnyStr) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        text = replies.enhance(text, self.data_size_limit or 0)
        if getattr(self.envelope, "smtp_utf8", False):  # the client reads UTF-8: add Japanese
            text = japanese.with_japanese(text)
        await super().push(text)


# Allocations between two collections of the youngest generation (Python's default is 700). A
# mail makes thousands of short-lived objects (parsed headers, rows, model instances) and very
# few cycles; collecting ten times less often saves CPU without holding memory for long.
GC_YOUNGEST_THRESHOLD = 7000


def settle_garbage_collector() -> None:
    """For a gateway process that has finished starting: what was loaded so far (Django, the
    models, the libraries) lives as long as the process, so later collections skip it."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNGEST_THRESHOLD, middle, oldest)


def listen(host: str, port: int, wait: float = 10.0) -> socket.socket:
    """The listening socket; a supervising gateway makes it once and its processes share it.

    A restarted gateway may find the port still held for a moment by the processes of the one it
    replaces, which are shutting down; it waits for them rather than failing.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            listener = socket.create_server((host, port), backlog=512)
            break
        except OSError as error:
            if error.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    listener.setblocking(False)
    return listener


SWITCH_INTERVAL = 0.0005

# How much longer, per open session, a process waits before it accepts: an idler process that
# shares the socket takes the connection first. (A shared table of every process's sessions,
# ADR 15, measured 4-5 % in 2026-12 and was removed: ADR 24.)
ACCEPT_DELAY_PER_SESSION = 0.002
# How long a process stops accepting after accept() itself failed (out of file descriptors).
ACCEPT_PAUSE_AFTER_ERROR = 0.1


def _refuse(conn: socket.socket, reply: str) -> None:
    """Answer a connection we will not serve, and close it (a 421 greeting, RFC 5321 3.1)."""
    observability.SMTP_REPLIES.labels(reply[:3]).inc()
    with contextlib.suppress(OSError):  # a client that is already gone needs no answer
        conn.send(f"{reply}\r\n".encode())
    conn.close()


class Gateway:
    """The SMTP gateway: an event loop on its own thread, accepting from a listening socket.

    Several processes may share one listening socket (pre-fork). Each accepts one connection per
    wake-up, and a process busy with a database step does not accept at all. A process waits a
    little longer per open session before it accepts, so that connections, which senders keep open
    for many mails, spread over the processes (ADR 5, ADR 24).
    """

    def __init__(self, listener: socket.socket) -> None:
        # The handler calls Django's database layer from the event loop's thread, by design
        # (ADR 5): each step is short and synchronous, no transaction stays open across an await.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        # The helper threads (blob sync, writer turn, DNS) wake up to hand a batch back to a busy loop;
        # each then waits for Python's lock until the loop's thread yields it, by default after 5 ms,
        # which every sender waiting for that batch's 250 would wait too (ADR 12).
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.listener = listener
        self.handler = RelayHandler(max_recipients=settings.MAX_RECIPIENTS)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="gateway-loop", daemon=True)
        self.address = "{}:{}".format(*listener.getsockname()[:2])
        self.sessions: set[GatewaySMTP] = set()
        self.accept_waiting = False
        self.deferred_accepts = 0  # connections left for a less busy process first (tests read it)
        self.starting = 0  # accepted, session not yet open

    def factory(self, peer_ip: str = "") -> GatewaySMTP:
        smtp = GatewaySMTP(
            self.handler,
            data_size_limit=settings.MAX_MESSAGE_BYTES,
            hostname=settings.RELAY_DOMAIN,
            ident="marketmsg relay",
            timeout=settings.GATEWAY_TIMEOUT_SECONDS,
            enable_SMTPUTF8=True,
            loop=self.loop,
        )
        smtp.sessions = self.sessions
        smtp.peer_ip = peer_ip
        return smtp

    def _sessions(self) -> int:
        return len(self.sessions) + self.starting

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.add_reader(self.listener.fileno(), self._readable)
        self.loop.run_forever()

    def _readable(self) -> None:
        wait = ACCEPT_DELAY_PER_SESSION * self._sessions()
        if wait <= 0:
            self._accept()
        elif not self.accept_waiting:
            # Let an idler process take it first; accept here if none has after the wait.
            self.accept_waiting = True
            self.deferred_accepts += 1
            self.loop.remove_reader(self.listener.fileno())
            self.loop.call_later(wait, self._accept_after_wait)

    def _accept_after_wait(self) -> None:
        self.accept_waiting = False
        if self.listener.fileno() == -1:  # stopped meanwhile
            return
        self._accept()
        self.loop.add_reader(self.listener.fileno(), self._readable)

    def _accept(self) -> None:
        try:
            conn, peer = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return  # another process took it
        except OSError as error:  # e.g. out of file descriptors: the client retries later
            log.warning("could not accept a connection: %s", error)
            if not self.accept_waiting:  # the socket stays readable: pause instead of spinning
                self.accept_waiting = True
                self.loop.remove_reader(self.listener.fileno())
                self.loop.call_later(ACCEPT_PAUSE_AFTER_ERROR, self._accept_after_wait)
            return
        conn.setblocking(False)
        peer_ip = str(peer[0]) if isinstance(peer, tuple) else ""
        refused = self.handler.limits.connect(peer_ip)
        if refused is not None:
            _refuse(conn, replies.BUSY if refused == "busy" else replies.TOO_MANY_CONNECTIONS)
            return
        self.starting += 1
        self.loop.create_task(self._serve(conn, peer_ip))

    async def _serve(self, conn: socket.socket, peer_ip: str) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: self.factory(peer_ip), conn)
        except OSError as error:
            log.info("connection lost while starting a session: %s", error)
            self.handler.limits.disconnect(peer_ip)
            conn.close()
        finally:
            self.starting -= 1

    def stop(self) -> None:
        """Stop accepting, end the sessions, close the database connection, end the thread."""

        async def shut() -> None:
            self.loop.remove_reader(self.listener.fileno())
            self.listener.close()
            await self.handler.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(timeout=15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=15)
        self.loop.close()
