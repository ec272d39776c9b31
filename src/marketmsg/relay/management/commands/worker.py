from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from marketmsg.relay import worker


class Command(BaseCommand):
    # The system checks import the web's URL configuration (and with it the API's libraries), which
    # the worker never serves; `marketmsg check` and the web server run them.
    requires_system_checks: list[str] = []
    help = "Deliver stored messages to the smarthost, retrying with back-off."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        host, port = settings.SMARTHOST
        self.stdout.write(f"delivery worker sending through {host}:{port}")
        worker.run(stop)
        self.stdout.write("delivery worker stopped")
