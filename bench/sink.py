"""A bare aiosmtpd sink: the yardstick the gateway is measured against, and the benchmark's smarthost.

Writes how many messages it has taken to COUNT_FILE every 0.1 s; with --arrivals FILE, also one
line per message: the arrival time (Unix seconds) and the first word of its subject.
"""

from __future__ import annotations

import argparse
import re
import signal
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class CountingSink:
    def __init__(self, arrivals: Path | None = None) -> None:
        self.count = 0
        self.arrivals = arrivals.open("a", buffering=1) if arrivals else None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        if self.arrivals is not None:
            word = _first_word_of_subject(envelope.original_content or b"")
            self.arrivals.write(f"{time.time():.6f} {word}\n")
        return "250 OK"


def _first_word_of_subject(data: bytes) -> str:
    head = data.split(b"\r\n\r\n", 1)[0]
    found = re.search(rb"^Subject:[ \t]*(\S+)", head, re.MULTILINE | re.IGNORECASE)
    return found.group(1).decode(errors="replace") if found else "-"


def _write_count(path: Path, count: int) -> None:
    """Replace the file in one step: a reader must never see it empty halfway through a write
    (it read 0 and reported lost mail that had arrived)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(str(count))
    partial.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count-file", type=Path, required=True)
    parser.add_argument("--arrivals", type=Path, default=None)
    args = parser.parse_args()
    sink = CountingSink(args.arrivals)
    controller = Controller(sink, hostname="127.0.0.1", port=args.port, data_size_limit=64 * 1024 * 1024)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.1):
        _write_count(args.count_file, sink.count)
    _write_count(args.count_file, sink.count)
    controller.stop()


if __name__ == "__main__":
    main()
