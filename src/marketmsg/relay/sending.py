"""Handing one rendered mail to the smarthost and classifying the answer.

What the next hop cannot take is decided here, per delivery, before anything is sent: an address
outside ASCII needs SMTPUTF8 (RFC 6531), and without it the delivery fails for good with a reason a
person can read; 8-bit content is declared with BODY=8BITMIME (RFC 6152), and a next hop that does
not offer it gets a 7-bit rendering (``offers`` tells the worker which to render).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from enum import Enum

from django.conf import settings

log = logging.getLogger(__name__)


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


NO_SMTPUTF8 = (
    "宛先のメールサーバーが英数字以外を含むアドレス（SMTPUTF8）に対応していません / "
    "the receiving mail server does not accept addresses with non-ASCII characters (no SMTPUTF8)"
)


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
        """One SMTP transaction; never raises, whatever the network, the server or the data do."""
        try:
            return self._transaction(envelope_from, recipient, data)
        except smtplib.SMTPResponseException as error:
            self.close()
            return _classify(error.smtp_code, _text(error.smtp_error))
        except (TimeoutError, OSError, smtplib.SMTPException) as error:
            self.close()
            return SendResult(Outcome.TEMPORARY, None, f"connection problem: {type(error).__name__}: {error}")
        except Exception as error:  # a bug for this one delivery: it is retried, the others go on
            log.exception("sending a delivery failed unexpectedly")
            self.close()
            return SendResult(
                Outcome.TEMPORARY, None, f"internal error while sending: {type(error).__name__}"
            )

    def offers(self, extension: str) -> bool:
        """Whether the next hop offers an ESMTP extension; False when it cannot be reached now (the
        send that follows then reports the connection problem)."""
        try:
            return bool(self._ready().has_extn(extension))
        except (OSError, smtplib.SMTPException):
            self.close()
            return False

    def _transaction(self, envelope_from: str, recipient: str, data: bytes) -> SendResult:
        client = self._ready()
        options: list[str] = []
        if not (envelope_from.isascii() and recipient.isascii()):
            if not client.has_extn("smtputf8"):
                return SendResult(Outcome.PERMANENT, None, NO_SMTPUTF8)
            options.append("SMTPUTF8")
        if not data.isascii() and client.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")  # else the worker rendered it 7-bit for this hop
        code, reply = client.mail(envelope_from, options)
        if code != 250:
            return _classify(code, _text(reply))
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            return _classify(code, _text(reply))
        code, reply = client.data(data)
        return _classify(code, _text(reply))

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


def next_attempt_delay(attempts: int) -> int | None:
    """Seconds until the next try after ``attempts`` failed tries, or None to give up (the relay's
    schedule, MARKETMSG_RETRY_SCHEDULE; account mail follows it too)."""
    schedule = settings.RETRY_SCHEDULE
    return schedule[attempts - 1] if attempts <= len(schedule) else None
