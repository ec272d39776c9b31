"""Starting the SMTP gateway on its own event loop."""

from __future__ import annotations

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from django.conf import settings

from marketmsg.gateway.handler import RelayHandler


class GatewayController(Controller):
    def factory(self) -> SMTP:
        return SMTP(
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
