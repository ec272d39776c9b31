from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from marketmsg.gateway.server import make_controller
from marketmsg.settings import parse_host_port


class Command(BaseCommand):
    help = "Run the SMTP gateway that receives mail for relay addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", default=None, help="HOST:PORT (default MARKETMSG_GATEWAY_LISTEN)")
        parser.add_argument(
            "--processes",
            type=int,
            default=0,
            help="gateway processes sharing the port (SO_REUSEPORT); 0 (default) = one on SQLite, "
            "whose single writer makes more slower, one per CPU on PostgreSQL",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = (
            parse_host_port(options["listen"], 2525) if options["listen"] else settings.GATEWAY_LISTEN
        )
        processes = options["processes"] or (1 if connection.vendor == "sqlite" else os.cpu_count() or 1)
        if processes > 1:
            self.supervise(host, port, processes)
            return
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
        controller.handler.shutdown()
        self.stdout.write("SMTP gateway stopped")

    def supervise(self, host: str, port: int, processes: int) -> None:
        """Runs N single-process gateways on one port and restarts any that dies."""
        command = [
            sys.executable,
            "-m",
            "marketmsg",
            "gateway",
            "--listen",
            f"{host}:{port}",
            "--processes",
            "1",
        ]
        children = [subprocess.Popen(command) for _ in range(processes)]
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
        while not stopping.wait(0.5):
            for i, child in enumerate(children):
                if child.poll() is not None:
                    self.stderr.write(f"gateway process {child.pid} exited ({child.returncode}); restarting")
                    children[i] = subprocess.Popen(command)
                    time.sleep(0.2)
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=15)
