"""Starting the SMTP gateway on its own event loop."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from django.conf import settings

from marketmsg.gateway import replies
from marketmsg.gateway.handler import RelayHandler

# A dot-atom address in angle brackets, and what follows it (the ESMTP parameters).
_SIMPLE_PATH = re.compile(
    r"\s*<(([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)>(.*)\Z",
    re.DOTALL,
)


class GatewaySMTP(SMTP):
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
            return super()._getaddr(arg)  # type: ignore[no-any-return]
        return simple[1], simple[3].lstrip(" ")

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
    # The handler calls Django's database layer from the event loop's thread, by design (ADR 5):
    # each step is short and synchronous, and no transaction stays open across an await.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    handler = RelayHandler(max_recipients=settings.MAX_RECIPIENTS)
    return GatewayController(handler, hostname=host, port=port)


def stop(controller: GatewayController) -> None:
    """Stop serving and close the event loop thread's database connection."""
    handler: RelayHandler = controller.handler
    asyncio.run_coroutine_threadsafe(handler.close(), controller.loop).result(timeout=15)
    controller.stop()
