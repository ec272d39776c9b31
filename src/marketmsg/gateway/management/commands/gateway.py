from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from marketmsg.gateway.server import Gateway, listen, settle_garbage_collector
from marketmsg.processes import stop_when_parent_dies
from marketmsg.settings import parse_host_port


class Command(BaseCommand):
    # The system checks import the web's URL configuration (and with it the API's libraries), which
    # the gateway never serves; `marketmsg check` and the web server run them.
    requires_system_checks: list[str] = []
    help = "Run the SMTP gateway that receives mail for relay addresses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", default=None, help="HOST:PORT (default MARKETMSG_GATEWAY_LISTEN)")
        parser.add_argument(
            "--processes",
            type=int,
            default=0,
            help="gateway processes sharing one listening socket; "
            "0 (default) = MARKETMSG_GATEWAY_PROCESSES, else one per CPU",
        )
        # Internal: a supervising gateway hands its listening socket to each process it starts.
        parser.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
        parser.add_argument("--supervisor-pid", type=int, default=None, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = (
            parse_host_port(options["listen"], 2525) if options["listen"] else settings.GATEWAY_LISTEN
        )
        # Each process is one thread (ADR 5), so one per CPU uses the machine; on SQLite they take
        # turns to write through a lock file and commit in groups.
        processes = options["processes"] or settings.GATEWAY_PROCESSES or os.cpu_count() or 1
        if processes > 1:
            self.supervise(host, port, processes)
            return
        if options["listen_fd"] is not None:
            stop_when_parent_dies(options["supervisor_pid"])
            listener = socket.socket(fileno=options["listen_fd"])
        else:
            listener = listen(host, port)
        gateway = Gateway(listener)
        settle_garbage_collector()
        gateway.start()
        self.stdout.write(
            f"SMTP gateway listening on {gateway.address} (relay domains: "
            f"{settings.RELAY_DOMAIN}, {settings.MOBILE_RELAY_DOMAIN})"
        )
        self.stdout.flush()  # a supervising gateway waits for this line
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        gateway.stop()
        self.stdout.write("SMTP gateway stopped")

    def supervise(self, host: str, port: int, processes: int) -> None:
        """Runs N gateway processes on one shared listening socket and restarts any that dies."""
        listener = listen(host, port)
        command = [
            sys.executable,
            "-m",
            "marketmsg",
            "gateway",
            "--processes",
            "1",
            "--listen-fd",
            str(listener.fileno()),
            "--supervisor-pid",
            str(os.getpid()),
        ]

        def start() -> subprocess.Popen[bytes]:
            return self.start_child(command, [listener.fileno()])

        children = [start() for _ in range(processes)]
        self.stdout.write(f"SMTP gateway listening on {host}:{port} with {processes} processes")
        self.stdout.flush()
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
        while not stopping.wait(0.5):
            for i, child in enumerate(children):
                if child.poll() is not None:
                    self.stderr.write(f"gateway process {child.pid} exited ({child.returncode}); restarting")
                    time.sleep(1)  # a process that cannot start must not be restarted in a tight loop
                    children[i] = start()
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=15)

    def start_child(self, command: list[str], fds: list[int]) -> subprocess.Popen[bytes]:
        """Start one gateway process and return once it listens (it says so on its first line)."""
        child = subprocess.Popen(command, stdout=subprocess.PIPE, pass_fds=fds)
        assert child.stdout is not None
        first = child.stdout.readline()
        self.stdout.write(first.decode(errors="replace").rstrip())
        threading.Thread(target=_copy_lines, args=(child.stdout, self.stdout), daemon=True).start()
        return child


def _copy_lines(source: IO[bytes], target: Any) -> None:
    for line in source:
        target.write(line.decode(errors="replace").rstrip())
