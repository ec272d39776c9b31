"""Starting the SMTP gateway on its own event loop."""

from __future__ import annotations

from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from django.conf import settings
from django.db import connection

from marketmsg.gateway import replies
from marketmsg.gateway.handler import RelayHandler


class GatewaySMTP(SMTP):
    # RFC 5321 allows 1000 octets a line, but real mail (one-line HTML, unwrapped base64) often has
    # longer ones and a receiving MTA is expected to cope; outgoing mail is re-encoded to 998.
    line_length_limit = 64 * 1024

    async def push(self, status: AnyStr) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        await super().push(replies.enhance(text, self.data_size_limit or 0))


class GatewayController(Controller):
    def _create_server(self) -> Any:
        # SO_REUSEPORT: several gateway processes share one listening port; the kernel spreads
        # connections between them (one process is bound to one core by the GIL).
        return self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context, reuse_port=True
        )

    def factory(self) -> SMTP:
        return GatewaySMTP(
            self.handler,
            data_size_limit=settings.MAX_MESSAGE_BYTES,
            hostname=settings.RELAY_DOMAIN,
            ident="marketmsg relay",
            timeout=120,
            enable_SMTPUTF8=True,
        )


def make_controller(host: str, port: int) -> GatewayController:
    threads = settings.GATEWAY_THREADS or (1 if connection.vendor == "sqlite" else 4)
    handler = RelayHandler(max_recipients=settings.MAX_RECIPIENTS, threads=threads)
    return GatewayController(handler, hostname=host, port=port)
