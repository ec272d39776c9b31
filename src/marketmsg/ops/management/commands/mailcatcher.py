from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketmsg.ops.mailcatcher import CatcherHandler
from marketmsg.settings import parse_host_port


class Command(BaseCommand):
    help = "Run a development SMTP sink that stores every message for the web's mail-catcher page."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", default="127.0.0.1:2526")
        parser.add_argument("--dir", default=None, help="default MARKETMSG_MAILCATCHER_DIR")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["dir"] or settings.MAILCATCHER_DIR
        if not directory:
            raise CommandError("Set MARKETMSG_MAILCATCHER_DIR or pass --dir.")
        host, port = parse_host_port(options["listen"], 2526)
        controller = Controller(CatcherHandler(Path(directory)), hostname=host, port=port)
        controller.start()
        self.stdout.write(f"mail catcher listening on {host}:{port}, keeping mail in {directory}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        controller.stop()
