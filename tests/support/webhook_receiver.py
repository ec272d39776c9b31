"""A real HTTP receiver on loopback for webhook tests: it keeps every request it got, and can be
told to be down (answer 503) or to hold requests until released."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self) -> None:
        self.got: list[Received] = []
        self.refused = 0  # requests answered 503 while down
        self.arrivals = 0  # requests that reached the handler, answered or not
        self.down = False
        self.arrived = threading.Condition()
        self.release = threading.Event()
        self.release.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.arrived:
                    receiver.arrivals += 1
                    receiver.arrived.notify_all()
                receiver.release.wait()
                if receiver.down:
                    receiver.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                with receiver.arrived:
                    receiver.got.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.arrived.notify_all()
                try:
                    self.send_response(204)
                    self.end_headers()
                except OSError:  # the sender was killed while the request was held
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 300) -> list[Received]:
        """Until ``count`` requests were taken (the bound only ends a hung run)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.got) >= count, timeout=timeout)
        assert len(self.got) >= count, f"the receiver got {len(self.got)} of {count} events"
        return list(self.got)

    def wait_for_arrival(self, count: int, timeout: float = 300) -> None:
        with self.arrived:
            self.arrived.wait_for(lambda: self.arrivals >= count, timeout=timeout)
        assert self.arrivals >= count, "no request arrived"

    def event_ids(self) -> list[str]:
        return [r.event_id for r in self.got]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
