from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from marketmsg.webhooks import sender


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # as the delivery worker: no web URL configuration here
    help = "Send webhook events to the marketplace's subscriptions, retrying with back-off."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        self.stdout.write("webhook sender started")
        sender.run(stop)
        self.stdout.write("webhook sender stopped")
