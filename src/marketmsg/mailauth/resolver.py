"""DNS for sender authentication: one resolver, configured from settings.

``MARKETMSG_DNS_SERVER`` (``host`` or ``host:port``) sends every query to one server, such as a
local caching resolver, or the loopback server the tests and benchmarks start (devdns); without
it the system's resolvers are used. SPF (pyspf), DKIM (dkimpy) and DMARC all look up through
here, so a test zone reaches each of them the way real DNS would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import dns.exception
import dns.resolver
import spf
from django.conf import settings

T = TypeVar("T")


class TemporaryDnsError(Exception):
    """DNS did not answer (timeout, server failure): the check's result is 'temperror'."""


class NotCached(TemporaryDnsError):
    """Inside ``cached_only()``: the answer would need a query (see there)."""


class _CacheOnly(threading.local):
    active = False
    missed = False


_cache_only = _CacheOnly()


class _Reading(threading.local):
    """What the lookups of one ``derived`` computation read: until when all of it holds, and
    whether a TXT record carried an SPF macro (then the result depends on more than the key)."""

    active = False
    expires = 0.0
    macro = False


_reading = _Reading()


@contextmanager
def cached_only() -> Iterator[_CacheOnly]:
    """Look up from the answer cache alone, in this thread: a miss raises NotCached and sets
    ``missed`` on what this yields. The gateway checks a mail from a known sender this way on its
    event loop, where a query must never wait. The libraries swallow some errors (pyspf ignores a
    failed explanation lookup), so the caller trusts ``missed``, not the exception, and checks again
    in a thread that may query."""
    _cache_only.active, _cache_only.missed = True, False
    try:
        yield _cache_only
    finally:
        _cache_only.active = False


_resolvers: dict[tuple[str, float], dns.resolver.Resolver] = {}


def resolver() -> dns.resolver.Resolver:
    """The resolver for the current settings, with an answer cache (records' own TTLs): the same
    senders write again and again, and each mail needs two to four lookups."""
    key = (settings.DNS_SERVER, settings.DNS_TIMEOUT)
    found = _resolvers.get(key)
    if found is None:
        found = _resolvers[key] = _configured(*key)
    return found


def _configured(server: str, timeout: float) -> dns.resolver.Resolver:
    found = dns.resolver.Resolver(configure=not server)
    if server:
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        found.nameservers = [host or server]
        if port:
            found.port = int(port)
    found.lifetime = found.timeout = timeout
    found.use_edns(0, 0, 4096)  # a 2048-bit DKIM key does not fit a 512-byte answer
    found.cache = dns.resolver.LRUCache(50_000)
    return found


# Answers as lookup() returns them, until they expire: (server, name, type) -> (expires, records).
# dnspython's own cache still builds a query for every hit (about a quarter of a millisecond, the
# largest part of checking a mail from a known sender); a dictionary hit costs microseconds.
_answers: dict[tuple[str, str, str], tuple[float, list[Any]]] = {}
MAX_ANSWERS = 50_000
# "No such record" is kept this long (RFC 2308 lets a resolver keep it for the zone's SOA minimum;
# a minute is short enough that a sender who has just published SPF is checked against it soon).
NEGATIVE_SECONDS = 60.0


# Results computed from DNS answers alone (see ``derived``): key -> (expires, result).
_derived: dict[tuple[Any, ...], tuple[float, Any]] = {}


def forget_answers() -> None:
    """Drop every cached answer (tests change their zones between cases)."""
    _answers.clear()
    _derived.clear()
    for found in _resolvers.values():
        if found.cache is not None:
            found.cache.flush()


def lookup(name: str, qtype: str) -> list[Any]:
    """The records of ``name``; [] when there are none. Raises TemporaryDnsError (never cached)."""
    key = (settings.DNS_SERVER, name.lower(), qtype)
    now = time.monotonic()
    cached = _answers.get(key)
    if cached is not None and cached[0] > now:
        _read(cached[0], cached[1], qtype)
        return cached[1]
    if _cache_only.active:
        _cache_only.missed = True
        raise NotCached(f"{name} {qtype} is not cached")
    try:
        answer = resolver().resolve(name, qtype, search=False)
        records, expires = list(answer), now + max(0.0, answer.expiration - time.time())
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        records, expires = [], now + NEGATIVE_SECONDS
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as error:
        raise TemporaryDnsError(f"DNS lookup of {name} {qtype} failed: {error}") from error
    if len(_answers) >= MAX_ANSWERS:
        _answers.clear()  # simple and rare: a full cache is refilled from the resolver's own
    _answers[key] = (expires, records)
    _read(expires, records, qtype)
    return records


def _read(expires: float, records: list[Any], qtype: str) -> None:
    if not _reading.active:
        return
    _reading.expires = min(_reading.expires, expires)
    if qtype in ("TXT", "SPF") and any(b"%{" in b"".join(r.strings) for r in records):
        _reading.macro = True


def derived(key: tuple[Any, ...], compute: Callable[[], T], keep: Callable[[T], bool]) -> T:
    """``compute()``, a function of ``key`` and of DNS answers alone, remembered for as long as
    every answer it read is (and only if ``keep`` accepts the result).

    Evaluating an SPF record again from cached answers costs far more than the lookups did (a
    quarter of the CPU of checking a mail from a known sender); its result, for the same client
    address and domain, is the same until one of those answers expires. A record with a macro
    (``%{l}``, ``%{h}``, ...) makes the result depend on more than the key, so it is not kept.
    """
    full_key = (settings.DNS_SERVER, *key)
    now = time.monotonic()
    found = _derived.get(full_key)
    if found is not None and found[0] > now:
        return found[1]  # type: ignore[no-any-return]
    _reading.active, _reading.expires, _reading.macro = True, float("inf"), False
    try:
        result = compute()
        expires, macro = _reading.expires, _reading.macro
    finally:
        _reading.active = False
    incomplete = _cache_only.active and _cache_only.missed  # an answer was missing from the cache
    if not macro and not incomplete and expires > now and keep(result):
        if len(_derived) >= MAX_ANSWERS:
            _derived.clear()
        _derived[full_key] = (expires, result)
    return result


def txt(name: str) -> list[bytes]:
    """Each TXT record of ``name`` with its strings joined, as DKIM and DMARC read them."""
    return [b"".join(record.strings) for record in lookup(name, "TXT")]


def dkim_txt(name: bytes | str, timeout: int = 5) -> bytes | None:
    """dkimpy's ``dnsfunc``: the key record of a selector."""
    found = txt(name.decode() if isinstance(name, bytes) else name)
    return found[0] if found else None


def _spf_lookup(name: str, qtype: str, strict: bool = True, timeout: int = 30) -> list[tuple[Any, Any]]:
    """pyspf's lookup hook, answered through ``resolver()``."""
    try:
        records = lookup(name, qtype)
    except TemporaryDnsError as error:
        raise spf.TempError(str(error)) from error
    out: list[tuple[Any, Any]] = []
    for record in records:
        if qtype in ("A", "AAAA"):
            out.append(((name, qtype), record.address))
        elif qtype == "MX":
            out.append(((name, qtype), (record.preference, record.exchange)))
        elif qtype == "PTR":
            out.append(((name, qtype), record.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            out.append(((name, qtype), record.strings))
    return out


spf.DNSLookup = _spf_lookup  # pyspf looks up through its module-level hook
