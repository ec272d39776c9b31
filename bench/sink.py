"""A bare aiosmtpd sink: the yardstick the gateway is measured against, and the benchmark's smarthost.

Writes how many messages it has taken to COUNT_FILE every 0.1 s.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class CountingSink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count-file", type=Path, required=True)
    args = parser.parse_args()
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=args.port, data_size_limit=64 * 1024 * 1024)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.1):
        args.count_file.write_text(str(sink.count))
    args.count_file.write_text(str(sink.count))
    controller.stop()


if __name__ == "__main__":
    main()
