"""Building test mail and reading relayed mail."""

from __future__ import annotations

import html
from email import message_from_bytes, policy
from email.header import decode_header
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote


def compose(
    sender: str, to: str, subject: str = "注文について", body: str = "こんにちは", **headers: str
) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = headers.pop(
        "message_id", make_msgid(domain=sender.rpartition("@")[2] or "x.example")
    )
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail.as_bytes()


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def everything_readable(data: bytes) -> str:
    """The mail as every reader could see it: raw bytes, decoded headers and decoded parts, lower-cased.

    Written independently of marketmsg's own leak check, so the tests do not trust the code they test.
    """
    texts = [data.decode("utf-8", "replace")]
    message = message_from_bytes(data, policy=policy.compat32)
    for part in message.walk():
        for _, value in part.items():
            for chunk, charset in decode_header(str(value)):
                texts.append(
                    chunk.decode(charset or "utf-8", "replace") if isinstance(chunk, bytes) else chunk
                )
        for param in ("filename", "name"):
            value = part.get_param(param, header="content-disposition") or part.get_param(param)
            if value:
                texts.append(str(value))
        filename = part.get_filename()
        if filename:
            texts.append(filename)
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
            texts.append(payload.decode("utf-16-le", "ignore"))
    joined = "\n".join(texts)
    return "\n".join([joined, html.unescape(joined), unquote(joined)]).lower()
