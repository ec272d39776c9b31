"""A small authoritative DNS server on loopback, for tests and benchmarks: it answers from a
dictionary of zones (SPF, DKIM keys, DMARC policies), so sender authentication runs its real
lookups without the internet. Names it does not know get NXDOMAIN.

    server = DevDns({"example.jp": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]}})
    server.start()   # then MARKETMSG_DNS_SERVER=127.0.0.1:<server.port>
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

Zones = Mapping[str, Mapping[str, list[str]]]


class DevDns:
    def __init__(self, zones: Zones | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.zones: dict[str, dict[str, list[str]]] = {}
        self.replace(zones or {})
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()
        self.queries = 0
        self._thread = threading.Thread(target=self._serve, name="devdns", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def replace(self, zones: Zones) -> None:
        """Serve these zones from now on; answers this process cached from the old ones are dropped."""
        from marketmsg.mailauth import resolver

        resolver.forget_answers()
        self.zones = {
            name.lower().rstrip("."): {k.upper(): list(v) for k, v in rr.items()}
            for name, rr in zones.items()
        }

    def start(self) -> DevDns:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return  # closed
            try:
                self.sock.sendto(self.answer(data), peer)
            except Exception:  # a malformed query gets no answer, like any server
                continue

    def answer(self, data: bytes) -> bytes:
        query = dns.message.from_wire(data)
        self.queries += 1
        response = dns.message.make_response(query, our_payload=4096)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        qtype = dns.rdatatype.to_text(question.rdtype)
        records = self.zones.get(name)
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif qtype in records:
            values = [_quoted(v) if qtype == "TXT" else v for v in records[qtype]]
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", qtype, values))
        return response.to_wire()


def _quoted(text: str) -> str:
    """A TXT value as zone-file text: split in 255-byte strings, each quoted."""
    chunks = [text[i : i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join('"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks)
