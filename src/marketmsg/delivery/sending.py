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


class SmtpSession:
    """One connection to the smarthost, reused for a batch of deliveries (RSET between them).

    Only a stale connection found before a transaction starts is replaced and retried; anything
    that fails once MAIL FROM was sent is reported as it is, so that nothing is sent twice here.
    """

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.client: smtplib.SMTP | None = None

    def _ready(self) -> smtplib.SMTP:
        if self.client is not None:
            try:
                if self.client.rset()[0] == 250:
                    return self.client
            except (OSError, smtplib.SMTPException):
                pass
            self.close()
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        client.ehlo_or_helo_if_needed()
        self.client = client
        return client

    def send(self, envelope_from: str, recipient: str, data: bytes) -> SendResult:
        """One SMTP transaction; never raises for anything the network or the server does."""
        try:
            client = self._ready()
            code, reply = client.mail(envelope_from)
            if code != 250:
                return _classify(code, _text(reply))
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                return _classify(code, _text(reply))
            code, reply = client.data(data)
            return _classify(code, _text(reply))
        except smtplib.SMTPResponseException as error:
            self.close()
            return _classify(error.smtp_code, _text(error.smtp_error))
        except (TimeoutError, OSError, smtplib.SMTPException) as error:
            self.close()
            return SendResult(Outcome.TEMPORARY, None, f"connection problem: {type(error).__name__}: {error}")

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                self.client.close()
            self.client = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
