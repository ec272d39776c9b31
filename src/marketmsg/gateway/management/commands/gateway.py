from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from marketmsg.gateway.server import make_controller
from marketmsg.settings import parse_host_port


class Command(BaseCommand):
    help = "Run the SMTP gateway that receives mail for relay addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", default=None, help="HOST:PORT (default MARKETMSG_GATEWAY_LISTEN)")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = (
            parse_host_port(options["listen"], 2525) if options["listen"] else settings.GATEWAY_LISTEN
        )
        controller = make_controller(host, port)
        controller.start()
        self.stdout.write(
            f"SMTP gateway listening on {host}:{port} (relay domains: "
            f"{settings.RELAY_DOMAIN}, {settings.MOBILE_RELAY_DOMAIN})"
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        controller.stop()
        self.stdout.write("SMTP gateway stopped")
