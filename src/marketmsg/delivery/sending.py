"""Handing one rendered mail to the smarthost and classifying the answer."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from enum import Enum


class Outcome(Enum):
    DELIVERED = "delivered"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    code: int | None
    reply: str


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _classify(code: int, reply: str) -> SendResult:
    if 200 <= code < 300:
        return SendResult(Outcome.DELIVERED, code, reply)
    outcome = Outcome.PERMANENT if code >= 500 else Outcome.TEMPORARY
    return SendResult(outcome, code, f"{code} {reply}")


def send(host: str, port: int, envelope_from: str, recipient: str, data: bytes, timeout: float) -> SendResult:
    """One SMTP transaction; never raises for anything the network or the server does."""
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            client.ehlo_or_helo_if_needed()
            code, reply = client.mail(envelope_from)
            if code != 250:
                return _classify(code, _text(reply))
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                return _classify(code, _text(reply))
            code, reply = client.data(data)
            return _classify(code, _text(reply))
    except smtplib.SMTPResponseException as error:
        return _classify(error.smtp_code, _text(error.smtp_error))
    except (TimeoutError, OSError, smtplib.SMTPException) as error:
        return SendResult(Outcome.TEMPORARY, None, f"connection problem: {type(error).__name__}: {error}")
