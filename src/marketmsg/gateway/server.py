"""Starting the SMTP gateway on its own event loop."""

from __future__ import annotations

from typing import AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from django.conf import settings

from marketmsg.gateway import replies
from marketmsg.gateway.handler import RelayHandler


class GatewaySMTP(SMTP):
    async def push(self, status: AnyStr) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        await super().push(replies.enhance(text, self.data_size_limit or 0))


class GatewayController(Controller):
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
    handler = RelayHandler(max_recipients=settings.MAX_RECIPIENTS)
    return GatewayController(handler, hostname=host, port=port)
