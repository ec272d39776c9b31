"""Building the mail a recipient receives: pure, from a stored message and the address mapping.

Headers are built from scratch (an allow-list, not a block-list); the MIME structure of a mail
message is rebuilt part by part with every text, HTML, file name and binary payload scrubbed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime

from marketmsg.mail import images, ownlinks, parsing
from marketmsg.mail.scrub import Replacements, scrub_bytes, scrub_html, scrub_text

MAX_DEPTH = 20
SMTP_POLICY = policy.SMTP.clone(max_line_length=998)
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def one_line(text: str) -> str:
    """A header value on one line. Python's mail headers refuse anything ``str.splitlines`` breaks
    at: not only CR and LF but also NEL (U+0085), the line and paragraph separators and a few
    control characters, which hostile mail carries in subjects, names and file names."""
    return " ".join(text.splitlines()) if text else text


class LeakDetected(Exception):
    """The rendered mail still contains a real address: it must not be sent."""


@dataclass(frozen=True)
class Outbound:
    """Everything needed to build one relayed mail."""

    from_name: str
    from_address: str
    to_address: str
    subject: str
    date: datetime
    message_id: str
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    text: str = ""
    html: str = ""
    raw: bytes | None = None  # the message as received, for mail-channel messages
    replacements: Replacements = field(default_factory=dict)
    auto_submitted: str = ""
    # Added by us after the sender's own text (e.g. the "no reply needed" link); never scrubbed.
    footer_text: str = ""
    footer_html: str = ""
    # Files of a web or API message: (file name, content type, bytes), already checked and cleaned.
    files: tuple[tuple[str, str, bytes], ...] = ()


def build(out: Outbound) -> EmailMessage:
    if out.raw is not None:
        body = _rebuild(parsing.parse(out.raw), out.replacements, depth=0)
        if out.footer_text:
            body = _with_footer(body, out.footer_text, out.footer_html)
    else:
        html = out.html + out.footer_html if out.html else ""
        body = _simple_body(out.text + out.footer_text, html)
        for filename, content_type, data in out.files:
            maintype, _, subtype = content_type.partition("/")
            body.add_attachment(
                scrub_bytes(data, out.replacements),
                maintype=maintype,
                subtype=subtype,
                filename=one_line(scrub_text(filename, out.replacements)),
            )
    # The rebuilt body becomes the message: copying its payload would lose 8-bit text.
    content = [(k, v) for k, v in body.items()]
    for key in list(body.keys()):
        del body[key]
    message = body
    message["From"] = Address(display_name=one_line(out.from_name), addr_spec=out.from_address)
    message["To"] = out.to_address
    message["Subject"] = one_line(scrub_text(out.subject, out.replacements))
    message["Date"] = format_datetime(out.date)
    message["Message-ID"] = out.message_id
    if out.in_reply_to:
        message["In-Reply-To"] = out.in_reply_to
    if out.references:
        message["References"] = " ".join(out.references)
    if out.auto_submitted:
        message["Auto-Submitted"] = out.auto_submitted
    message["MIME-Version"] = "1.0"
    for key, value in content:
        if key.lower() != "mime-version":
            message[key] = value
    return message


def _simple_body(text: str, html: str) -> EmailMessage:
    part = EmailMessage()
    part.set_content(text or " ", charset="utf-8")
    if html:
        part.add_alternative(html, subtype="html", charset="utf-8")
    return part


def _with_footer(body: EmailMessage, text: str, html: str) -> EmailMessage:
    """Append the footer to the first plain-text and the first HTML body part; a message without
    a text body gets a plain-text part of its own in front."""
    done: set[str] = set()
    for part in body.walk():
        ctype = part.get_content_type()
        if part.is_multipart() or ctype not in ("text/plain", "text/html") or ctype in done:
            continue
        if (part.get_content_disposition() or "") == "attachment":
            continue
        content = part.get_content()
        if ctype == "text/plain":
            part.set_content(content + text, charset="utf-8")
        else:
            closing = content.lower().rfind("</body>")
            at = closing if closing >= 0 else len(content)
            part.set_content(content[:at] + html + content[at:], subtype="html", charset="utf-8")
        done.add(ctype)
    if "text/plain" in done or "text/html" in done:
        return body
    container = EmailMessage()
    container.set_type("multipart/mixed")
    container.attach(_simple_body(text.lstrip("\n"), ""))
    container.attach(body)
    return container


def _rebuild(source: Message, replacements: Replacements, depth: int) -> EmailMessage:
    """A fresh MIME tree equal in content to ``source``, with only content headers kept."""
    if depth > MAX_DEPTH:
        return _simple_body("[nested too deeply / 入れ子が深すぎるため省略]", "")
    ctype = source.get_content_type()
    forwarded = parsing.encoded_message(source)  # a forwarded mail in base64: opened, not carried
    if forwarded is not None:
        return _attached_message(forwarded, replacements, depth)
    if source.is_multipart() and ctype.startswith("message/"):
        inner = source.get_payload()
        nested = inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Message) else None
        return _attached_message(nested, replacements, depth)
    if source.is_multipart():
        container = EmailMessage()
        subtype = ctype.split("/", 1)[1] if ctype.startswith("multipart/") else "mixed"
        container.set_type(f"multipart/{subtype}")
        for child in source.get_payload() or []:
            if isinstance(child, Message):
                container.attach(_rebuild(child, replacements, depth + 1))
        return container
    return _leaf(source, replacements)


def _leaf(source: Message, replacements: Replacements) -> EmailMessage:
    part = EmailMessage()
    ctype = source.get_content_type()
    if not _CONTENT_TYPE.match(ctype):  # garbage in the header: carry the part as opaque data
        ctype = "application/octet-stream"
    maintype, subtype = ctype.split("/", 1)
    disposition = (source.get_content_disposition() or "").lower()
    filename = one_line(scrub_text(parsing.filename_of(source), replacements))
    if maintype == "text" and subtype in ("plain", "html") and disposition != "attachment":
        # NULs are text in UTF-16 under a wrong charset: a reader sees them as nothing, and kept
        # they would make the relayed text read as UTF-16 again (where a spelling could hide).
        text = parsing.part_text(source).replace("\x00", "")
        if subtype == "html":
            body = scrub_html(ownlinks.without_own_links_html(text), replacements)
        else:
            body = scrub_text(ownlinks.without_own_links(text), replacements)
        part.set_content(body, subtype=subtype, charset="utf-8")
        return part
    if maintype == "text":
        data = scrub_text(parsing.part_text(source), replacements).encode("utf-8")
    else:
        data = parsing.payload_bytes(source) or b""
        # EXIF, GPS and comments never leave (SPEC F7), whatever type the sender declared.
        data = images.without_metadata(data, ctype)
        data = scrub_bytes(data, replacements)
    if maintype in ("multipart", "message"):  # a broken container; carry it as opaque data
        maintype, subtype = "application", "octet-stream"
    part.set_content(
        data,
        maintype=maintype,
        subtype=subtype,
        disposition="inline" if disposition == "inline" else "attachment",
        filename=filename or None,
    )
    return part


def _attached_message(nested: Message | None, replacements: Replacements, depth: int) -> EmailMessage:
    """A forwarded message keeps its visible headers (scrubbed) and its rebuilt body."""
    inner = _rebuild(nested, replacements, depth + 1) if nested is not None else _simple_body(" ", "")
    if nested is not None:
        for name in ("From", "To", "Cc", "Date", "Subject"):
            value = parsing.header_text(nested, name)
            if value:
                _set_forwarded_header(inner, name, one_line(scrub_text(value, replacements)))
    part = EmailMessage()
    part.set_content(inner)
    return part


def _set_forwarded_header(inner: EmailMessage, name: str, value: str) -> None:
    """A forwarded mail's visible header, as it came, if the standard library can write it out;
    else only the addresses in it, else nothing. (Its folding raises on some names, such as one
    that starts with a dot before a long word: the delivery would have failed on every try.)"""
    for candidate in (value, ", ".join(parsing.ADDRESS_RE.findall(value))):
        if not candidate:
            continue
        try:
            inner[name] = candidate
            inner[name].fold(policy=SMTP_POLICY)
            return
        except Exception:
            del inner[name]


def assert_no_leak(rendered: bytes, reals: list[str]) -> None:
    """Last line of defence: look at every header and decoded part for a real address."""
    from marketmsg.mail.scrub import leaked, leaked_in_file

    found = leaked(rendered.decode("utf-8", errors="replace"), reals)
    message = parsing.parse(rendered)
    for key in message:
        found += leaked(parsing.header_text(message, key), reals)
    for part in parsing.walk(message):
        if part.is_multipart():
            continue
        payload = parsing.payload_bytes(part)
        if payload is not None and part.get_content_maintype() != "text":
            found += leaked_in_file(payload, reals)  # read as scrub_bytes reads files
        elif payload is not None:
            found += leaked(parsing.decode_bytes(payload, part.get_content_charset() or "utf-8"), reals)
            found += leaked(payload.decode("utf-16-le", errors="ignore"), reals)
        found += leaked(parsing.filename_of(part), reals)
    if found:
        raise LeakDetected(f"{len(set(found))} real address(es) survived rendering")
