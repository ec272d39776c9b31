"""Abuse limits of the SMTP gateway: how many connections one address may hold, and how fast one
connecting address, one sender address and one relay address may send.

Rates are the one rate limiter's token buckets (limits.rate, ADR 23), counted in the memory of each
gateway process (limits.memory, ADR 14): on the mail path a shared counter would cost a database
write per mail, and a limit only needs to stop a flood, not to be exact. With N processes the
effective limit is up to N times the setting. Over a limit, the sender's server is told to try again later
(``450``/``421``); nothing is refused for good and nothing that was accepted is touched.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from marketmsg.limits.memory import Buckets
from marketmsg.limits.rate import Rate


@dataclass(frozen=True)
class Settings:
    connections_per_ip: int
    sessions: int
    per_ip: Rate
    per_sender: Rate
    per_relay_address: Rate
    exempt: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def networks(texts: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in texts if text.strip())


def from_settings() -> Settings:
    from django.conf import settings

    return Settings(
        connections_per_ip=settings.LIMIT_CONNECTIONS_PER_IP,
        sessions=settings.LIMIT_SESSIONS,
        per_ip=Rate.parse(settings.LIMIT_PER_IP),
        per_sender=Rate.parse(settings.LIMIT_PER_SENDER),
        per_relay_address=Rate.parse(settings.LIMIT_PER_RELAY_ADDRESS),
        exempt=networks(settings.LIMIT_EXEMPT_NETWORKS),
    )


class Limits:
    """The decisions; the SMTP words are in ``gateway.replies``. One instance per process."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.open: dict[str, int] = {}  # connecting address -> open sessions
        self.per_ip = Buckets(settings.per_ip, clock)
        self.per_sender = Buckets(settings.per_sender, clock)
        self.per_relay = Buckets(settings.per_relay_address, clock)

    def exempt(self, ip: str) -> bool:
        """The MTA in front (loopback by default) carries everyone's mail: no per-address limit."""
        return _in_networks(ip, self.settings.exempt)

    def connect(self, ip: str) -> str | None:
        """None if the session may start (and it is counted), else why not: 'busy' or 'address'."""
        if sum(self.open.values()) >= self.settings.sessions > 0:
            return "busy"
        if not self.exempt(ip) and self.open.get(ip, 0) >= self.settings.connections_per_ip > 0:
            return "address"
        self.open[ip] = self.open.get(ip, 0) + 1
        return None

    def disconnect(self, ip: str) -> None:
        left = self.open.get(ip, 0) - 1
        if left > 0:
            self.open[ip] = left
        else:
            self.open.pop(ip, None)

    def mail_from(self, ip: str) -> bool:
        """Whether this connecting address may start another message now (and it is counted)."""
        if self.exempt(ip):
            return True
        return not self.per_ip.take(ip)

    def recipient(self, sender: str, relay_address: str) -> str | None:
        """None if a message from ``sender`` to ``relay_address`` may go now (and both count),
        else which limit it hit: 'sender' or 'relay'. The null sender (bounces) is not limited
        by sender, only by relay address."""
        sender_key, relay_key = sender.lower(), relay_address.lower()
        if sender_key and self.per_sender.wait(sender_key):
            return "sender"
        if self.per_relay.wait(relay_key):
            return "relay"
        if sender_key:
            self.per_sender.take(sender_key)
        self.per_relay.take(relay_key)
        return None


@lru_cache(maxsize=10_000)  # asked at every MAIL: parsing the address cost more than the rest
def _in_networks(ip: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)
