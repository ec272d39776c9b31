"""Reading a delivery status notification (RFC 3464) or a plain-text bounce."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from marketmsg.mail import parsing

_STATUS = re.compile(r"^Status:\s*([245])\.(\d{1,3})\.(\d{1,3})", re.IGNORECASE | re.MULTILINE)
_ACTION = re.compile(r"^Action:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_DIAGNOSTIC = re.compile(r"^Diagnostic-Code:\s*(?:smtp;\s*)?(.+)$", re.IGNORECASE | re.MULTILINE)
_SMTP_REPLY = re.compile(r"\b([45])\d\d[ -]([45]\.\d{1,3}\.\d{1,3})?")


@dataclass(frozen=True)
class BounceReport:
    permanent: bool
    status: str
    diagnostic: str


def read_bounce(message: Message) -> BounceReport | None:
    """What the bounce says about our delivery; None when it is only a delay or success notice."""
    report = ""
    for part in parsing.walk(message):
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                report = "\n".join(p.as_string() for p in payload if isinstance(p, Message))
            else:
                report = str(payload)
            break
    if report:
        action = _ACTION.search(report)
        if action and action.group(1).lower() in {"delayed", "delivered", "relayed", "expanded"}:
            return None
        status = _STATUS.search(report)
        diagnostic = _DIAGNOSTIC.search(report)
        code = ".".join(status.groups()) if status else "5.0.0"
        return BounceReport(
            permanent=code.startswith("5"),
            status=code,
            diagnostic=(diagnostic.group(1).strip() if diagnostic else "")[:500],
        )
    text = parsing.bodies(message).text
    match = _SMTP_REPLY.search(text)
    if match:
        return BounceReport(
            permanent=match.group(1) == "5", status=match.group(2) or "5.0.0", diagnostic=match.group(0)
        )
    return BounceReport(permanent=True, status="5.0.0", diagnostic="")
