"""Who really sent a mail (SPEC F1): SPF, DKIM and DMARC, or the verdict of a trusted MTA in front.

``check`` reads DNS only (through ``resolver``), never the database, so the gateway runs it in a
thread beside the event loop. A mail whose From domain fails DMARC with a policy of ``reject``
or ``quarantine`` is refused (``550 5.7.26``); every other verdict is stored with the message for
staff. The relay never passes an ``Authentication-Results`` header on (it rebuilds every mail
from an allow-list of headers), and only the trusted authserv-id's header is believed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message as MailMessage
from email.parser import BytesHeaderParser
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import authres
import dkim
import spf
from django.conf import settings

from marketmsg.mailauth import resolver
from marketmsg.mailauth.resolver import TemporaryDnsError


@dataclass(frozen=True)
class Verdict:
    spf: str = "none"  # pass, fail, softfail, neutral, none, temperror, permerror
    spf_domain: str = ""  # the domain SPF vouched for: the envelope sender's, or HELO's
    dkim: list[tuple[str, str]] = field(default_factory=list)  # (signing domain, result) each
    dmarc: str = "none"  # pass, fail, none, temperror
    policy: str = ""  # the From domain's policy: none, quarantine, reject
    from_domain: str = ""
    source: str = "checked"  # "checked" here, or "authserv:<id>" when read from a trusted MTA

    @property
    def refused(self) -> bool:
        return self.dmarc == "fail" and self.policy in ("reject", "quarantine")

    def summary(self) -> str:
        dkim_result = next((r for _, r in self.dkim if r == "pass"), self.dkim[0][1] if self.dkim else "none")
        return f"spf={self.spf} dkim={dkim_result} dmarc={self.dmarc}"

    def as_dict(self) -> dict[str, Any]:
        """The verdict as stored with the message (JSON); ``asdict`` copied it deeply, slower."""
        return {
            "spf": self.spf,
            "spf_domain": self.spf_domain,
            "dkim": [tuple(signature) for signature in self.dkim],
            "dmarc": self.dmarc,
            "policy": self.policy,
            "from_domain": self.from_domain,
            "source": self.source,
        }


def check(raw: bytes, ip: str, helo: str, mail_from: str, parsed: MailMessage | None = None) -> Verdict:
    """The verdict on ``raw``; ``parsed`` is the same mail already parsed (compat32), if it was."""
    headers = (
        parsed
        if parsed is not None
        else BytesHeaderParser(policy=policy.compat32).parsebytes(_header_block(raw))
    )
    if settings.TRUSTED_AUTHSERV_ID:
        return trusted(headers, settings.TRUSTED_AUTHSERV_ID)
    from_domain = _from_domain(headers)
    spf_result, spf_domain = _spf(ip, helo, mail_from)
    signatures = _dkim(raw, len(headers.get_all("DKIM-Signature") or []))
    dmarc, found_policy = _dmarc(from_domain, spf_result, spf_domain, signatures)
    return Verdict(spf_result, spf_domain, signatures, dmarc, found_policy, from_domain)


# Checking on the event loop is for small mails: a DKIM body hash of a large one would stall it.
INLINE_MAX_BYTES = 256 * 1024


def check_from_cache(
    raw: bytes, ip: str, helo: str, mail_from: str, parsed: MailMessage | None = None
) -> Verdict | None:
    """``check`` answered from cached DNS alone, or None when it would need a query (or the mail
    is large): the same verdict ``check`` gives, computed without waiting, so the gateway can skip
    the hand-off to a thread for senders it has seen recently."""
    if len(raw) > INLINE_MAX_BYTES:
        return None
    with resolver.cached_only() as lookups:
        verdict = check(raw, ip, helo, mail_from, parsed)
    return None if lookups.missed else verdict


def _header_block(raw: bytes) -> bytes:
    """The headers alone: parsing a 20 MB mail whole would copy its body twice for nothing."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends) + 2] if ends else raw


def _from_domain(headers: MailMessage) -> str:
    value = str(headers.get("From", ""))
    match = re.search(r"@([A-Za-z0-9.-]+)>?\s*$", value.strip())
    return match.group(1).lower().rstrip(".") if match else ""


def _spf(ip: str, helo: str, mail_from: str) -> tuple[str, str]:
    sender = mail_from or f"postmaster@{helo}"  # a bounce (null sender) is checked by its HELO name
    domain = sender.rpartition("@")[2].lower()

    def evaluate() -> str:
        try:
            result, _explanation = spf.check2(i=ip, s=sender, h=helo or domain)
        except Exception:  # a malformed address or a broken record is the sender's problem
            return "permerror"
        return str(result)

    # Without macros in its records, the result depends on the client address and the domain
    # alone: the next mail from the same server for the same domain reuses it (resolver.derived).
    return resolver.derived(("spf", ip, domain), evaluate, keep=lambda r: r != "temperror"), domain


def _dkim(raw: bytes, count: int) -> list[tuple[str, str]]:
    results = []
    for index in range(min(count, 5)):  # a handful at most: each costs a DNS lookup
        verifier = dkim.DKIM(raw)
        try:
            ok = verifier.verify(idx=index, dnsfunc=resolver.dkim_txt)
        except TemporaryDnsError:
            results.append((_signer(verifier), "temperror"))
            continue
        except Exception:  # dkimpy raises on malformed signatures and keys
            ok = False
        results.append((_signer(verifier), "pass" if ok else "fail"))
    return results


def _signer(verifier: dkim.DKIM) -> str:
    domain = getattr(verifier, "domain", None) or b""
    return (domain.decode(errors="replace") if isinstance(domain, bytes) else str(domain)).lower()


@cache
def _suffix_rules() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The public suffix list that ships with publicsuffix2 (no download), as three sets of rules:
    plain, wildcard (``*.x`` stored as ``x``) and exception (``!x`` stored as ``x``). Sets of
    strings take about a tenth of the memory of the library's own tree."""
    text = resources.files("publicsuffix2").joinpath("public_suffix_list.dat").read_text("utf-8")
    plain, wildcard, exception = set(), set(), set()
    for line in text.splitlines():
        rule = line.strip().split(" ")[0].lower()
        if not rule or rule.startswith("//"):
            continue
        if rule.startswith("!"):
            exception.add(rule[1:])
        elif rule.startswith("*."):
            wildcard.add(rule[2:])
        else:
            plain.add(rule)
    return frozenset(plain), frozenset(wildcard), frozenset(exception)


def public_suffix(domain: str) -> str:
    """The publicsuffix.org algorithm: an exception rule wins, else the longest matching rule, and
    an unlisted top-level domain is a suffix of its own (the implicit ``*`` rule)."""
    plain, wildcard, exception = _suffix_rules()
    labels = domain.split(".")
    for start in range(len(labels)):
        candidate = ".".join(labels[start:])
        if candidate in exception:
            return ".".join(labels[start + 1 :])
        parent = ".".join(labels[start + 1 :])
        if candidate in plain or (start + 1 < len(labels) and parent in wildcard):
            return candidate
    return labels[-1]


@lru_cache(maxsize=4096)  # the same few domains write again and again
def organizational(domain: str) -> str:
    """The registered domain (RFC 7489 §3.2): the public suffix and one label more."""
    domain = domain.lower().rstrip(".")
    suffix = public_suffix(domain)
    if domain == suffix:
        return domain
    rest = domain[: -len(suffix) - 1]
    return f"{rest.rpartition('.')[2]}.{suffix}"


def _policy_record(from_domain: str) -> tuple[dict[str, str], bool]:
    """The DMARC tags of the From domain, or of its organizational domain (then True)."""
    organization = organizational(from_domain)
    for domain, inherited in ((from_domain, False), (organization, True)):
        if inherited and domain == from_domain:
            break
        for record in resolver.txt(f"_dmarc.{domain}"):
            text = record.decode(errors="replace").strip()
            if text.lower().startswith("v=dmarc1"):
                tags = {}
                for part in text.split(";"):
                    key, _, value = part.partition("=")
                    if key.strip():
                        tags[key.strip().lower()] = value.strip().lower()
                return tags, inherited
    return {}, False


def _dmarc(
    from_domain: str, spf_result: str, spf_domain: str, signatures: list[tuple[str, str]]
) -> tuple[str, str]:
    if not from_domain:
        return "none", ""
    try:
        tags, inherited = _policy_record(from_domain)
    except TemporaryDnsError:
        return "temperror", ""
    if not tags:
        return "none", ""
    found_policy = tags.get("sp", tags.get("p", "none")) if inherited else tags.get("p", "none")
    organization = organizational(from_domain)

    def aligned(domain: str, mode: str) -> bool:
        return domain == from_domain if mode == "s" else organizational(domain) == organization

    passes = (spf_result == "pass" and aligned(spf_domain, tags.get("aspf", "r"))) or any(
        result == "pass" and aligned(domain, tags.get("adkim", "r")) for domain, result in signatures
    )
    return ("pass" if passes else "fail"), found_policy


def trusted(headers: MailMessage, authserv_id: str) -> Verdict:
    """The verdict of the MTA in front, from the topmost Authentication-Results header it added.
    Headers from anyone else (a sender can write any header) are ignored."""
    for value in headers.get_all("Authentication-Results") or []:
        text = " ".join(str(value).split())
        try:
            parsed = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {text}")
        except Exception:
            continue
        if str(parsed.authserv_id).lower() != authserv_id.lower():
            continue
        found: dict[str, Any] = {"source": f"authserv:{authserv_id}", "dkim": []}
        for result in parsed.results:
            props = {f"{p.type}.{p.name}": str(p.value).lower() for p in result.properties}
            if result.method == "spf":
                found["spf"] = result.result
                found["spf_domain"] = props.get("smtp.mailfrom", "").rpartition("@")[2]
            elif result.method == "dkim":
                found["dkim"].append((props.get("header.d", ""), result.result))
            elif result.method == "dmarc":
                found["dmarc"] = result.result
                found["from_domain"] = props.get("header.from", "")
                comment = re.search(r"dmarc=\w+\s*\(([^)]*)\)", text)
                stated = re.search(r"\bp=(\w+)", comment.group(1)) if comment else None
                found["policy"] = props.get("policy.dmarc") or (stated.group(1).lower() if stated else "")
        return Verdict(**found)
    return Verdict(source=f"authserv:{authserv_id}")
