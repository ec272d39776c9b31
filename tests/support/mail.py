"""Building test mail and reading relayed mail."""

from __future__ import annotations

import base64
import html
import quopri
import re
import unicodedata
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
        if part.get_content_maintype() == "message" and str(
            part.get("content-transfer-encoding")
        ).lower() in (
            "base64",
            "quoted-printable",
        ):  # a forwarded mail in an encoding: the parser read the encoded text; read the mail too
            inner = part.get_payload()
            encoded = inner[0].as_string() if isinstance(inner, list) else str(inner)
            if "base64" in str(part.get("content-transfer-encoding")).lower():
                texts.append(everything_readable(base64.b64decode(encoded.encode(), validate=False)))
            else:
                texts.append(everything_readable(quopri.decodestring(encoded.encode())))
    joined = "\n".join(texts)
    return "\n".join([joined, html.unescape(joined), unquote(joined), as_a_reader_sees(joined)]).lower()


# Written apart from marketmsg's mail.spelling, on purpose: characters no reader sees.
_UNSEEN = {"\u00ad", "\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", '"'}


def as_a_reader_sees(text: str) -> str:
    """Compatibility forms folded (full-width letters), invisible characters and markup removed,
    references and %-escapes decoded: an address a person would still read, spelt plainly."""
    text = unquote(html.unescape(text))
    text = re.sub(r"</?[a-zA-Z][^<>]*>", "", text)
    text = unicodedata.normalize("NFKC", text)
    return "".join(
        c
        for c in text
        if c not in _UNSEEN
        and unicodedata.category(c) != "Cf"
        and (unicodedata.category(c) != "Cc" or c in "\n\r\t")
        and not "\ufe00" <= c <= "\ufe0f"
    )
