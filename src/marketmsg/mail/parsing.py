"""Reading real-world mail without ever raising: broken MIME, odd charsets, bad headers.

Pure functions of the bytes they are given.
"""

from __future__ import annotations

import binascii
import email.policy
import quopri
import re
from dataclasses import dataclass
from email.feedparser import BytesFeedParser
from email.header import decode_header
from email.message import Message
from email.utils import parseaddr

# compat32 keeps headers as the raw strings they were (decoded here, on demand, by header_text):
# policy.default's structured headers cost a fifth of a millisecond per access, which dominated
# the gateway's time per message. Defects are recorded, never raised.
MAIL_POLICY = email.policy.compat32

# Charsets seen on Japanese carrier mail that Python's codecs do not know by these names.
CHARSET_ALIASES = {
    "x-sjis": "cp932",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "x-sjis-docomo": "cp932",
    "x-sjis-kddi": "cp932",
    "x-sjis-softbank": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-2022-jp-1": "iso2022_jp_ext",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SURROGATE = re.compile("[\udc80-\udcff]")  # a raw 8-bit byte in a header, as the parser escapes it
_FOLD = re.compile(r"\r?\n[ \t]*")
MSGID_RE = re.compile(r"<[^<>\s]{1,500}>")
ADDRESS_RE = re.compile(r"[A-Za-z0-9._%+!#$&'*/=?^`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


# The parser is fed this much at a time. Fed a whole large mail at once, it splits all of it into
# lines before it parses any: a 14 MB mail then took 125 MB, in 64 KB pieces 39 MB.
PARSE_CHUNK = 64 * 1024


def parse(raw: bytes) -> Message:
    """The mail as the standard library parses it (compat32), fed to the parser in pieces."""
    parser = BytesFeedParser(policy=MAIL_POLICY)
    view = memoryview(raw)
    for start in range(0, len(raw), PARSE_CHUNK):
        parser.feed(bytes(view[start : start + PARSE_CHUNK]))
    return parser.close()


def payload_bytes(part: Message) -> bytes | None:
    """``part.get_payload(decode=True)`` for a leaf part (None for a container), with base64
    decoded in one step: the standard library first splits the part into lines and joins them
    again, which for a 10 MB file held three copies of it at once. Whatever the one-step decode
    does not take (bad padding, other encodings) is left to the standard library."""
    try:
        payload = part.get_payload()
    except ValueError:
        # The standard library looks the charset up to read 8-bit text, and a charset name with a
        # NUL in it raises (found by the fuzzer): read it without that name.
        part.del_param("charset")
        payload = part.get_payload()
    encoding = str(part.get("content-transfer-encoding", "")).lower()
    if isinstance(payload, str) and encoding == "base64":
        try:
            return binascii.a2b_base64(payload.encode("ascii", "surrogateescape"))
        except (binascii.Error, UnicodeError):
            pass
    decoded = part.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else None


def _raw_values(message: Message, name: str) -> list[str]:
    """The header's values exactly as received (raw 8-bit bytes as surrogate escapes), unfolded."""
    return list(_header_index(message).get(name.lower(), ()))


# Where a parsed mail keeps its headers by lower-case name once they were first asked for: the
# pipeline asks a mail for a dozen headers, and each search of the whole header list cost more
# than a database lookup. Parsed mails are never changed afterwards, so the index stays true.
_INDEX_ATTRIBUTE = "_marketmsg_header_index"


def _header_index(message: Message) -> dict[str, list[str]]:
    index: dict[str, list[str]] | None = message.__dict__.get(_INDEX_ATTRIBUTE)
    if index is None:
        index = {}
        try:
            for key, value in message.raw_items():
                index.setdefault(key.lower(), []).append(_FOLD.sub(" ", _undo_surrogates(str(value))))
        except Exception:  # a header the library cannot hand back: as if the mail had none
            index = {}
        setattr(message, _INDEX_ATTRIBUTE, index)
    return index


def header_text(message: Message, name: str) -> str:
    """The decoded value of a header, or '' — never an exception.

    Works from the raw value: UTF-8 or Shift_JIS written straight into a header (as many mailers
    and carriers do) is decoded instead of being turned into replacement characters.
    """
    values = _raw_values(message, name)
    if not values:
        return ""
    text = values[0]
    if "=?" in text:  # encoded words
        text = _decode_words(text)
    return _CONTROL.sub(" ", text).strip()


def header_texts(message: Message, name: str) -> list[str]:
    return _raw_values(message, name)


def _undo_surrogates(text: str) -> str:
    """Raw 8-bit bytes in a header arrive as surrogate escapes; decode them as UTF-8 or Shift_JIS."""
    if _SURROGATE.search(text) is None:
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"), "utf-8")


def _decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded, with carrier charsets (Shift_JIS emoji) and broken words
    decoded as well as possible rather than left encoded."""
    try:
        chunks = decode_header(text)
    except Exception:
        return text.replace("=?", "= ?")  # undecodable: keep it from being taken for an encoded word
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes) and charset is None:
            # decode_header hands back the unencoded stretches in this codec
            out.append(chunk.decode("raw-unicode-escape", errors="replace"))
        elif isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, str(charset)))
        else:
            out.append(chunk)
    return "".join(out).replace("=?", "= ?")


# The From header as nearly every mailer writes it: a plain address, or a display name without
# RFC 5322 specials (or in quotes) before an address in angle brackets. Such a value is read
# without the standard library's general address parser, which cost as much as a database lookup
# per mail; tests prove both agree on every value this matches.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_PLAIN_NAME = r'"[^"\\\r\n]*"|[^"<>()\[\]\\,;:@.\r\n]*'
_SIMPLE_FROM = re.compile(rf"(?:(?:{_PLAIN_NAME})[ \t]*<({_ADDR_SPEC})>|({_ADDR_SPEC}))")


def from_address(message: Message) -> str:
    """The author's address from the From header, lower-cased, or ''."""
    return address_in(header_text(message, "From"))


def address_in(value: str) -> str:
    """The first address in a decoded From value, lower-cased, or ''."""
    simple = _SIMPLE_FROM.fullmatch(value)
    if simple is not None:
        return (simple[1] or simple[2]).lower()
    _, addr = parseaddr(value)
    if "@" not in addr:
        match = ADDRESS_RE.search(value)
        addr = match.group(0) if match else ""
    return addr.strip().lower()


def message_ids(message: Message, *names: str) -> list[str]:
    ids: list[str] = []
    for name in names:
        for value in header_texts(message, name):
            ids.extend(MSGID_RE.findall(value))
    return list(dict.fromkeys(ids))


def part_text(part: Message) -> str:
    """A text part decoded to str, whatever its charset claims."""
    payload = payload_bytes(part)
    if payload is None:
        return ""
    return decode_bytes(payload, part.get_content_charset() or "utf-8")


def decode_bytes(payload: bytes, charset: str) -> str:
    codec = CHARSET_ALIASES.get(charset.lower(), charset)
    for candidate in (codec, "utf-8", "cp932"):
        try:
            return payload.decode(candidate)
        except (LookupError, ValueError):  # unknown codec, undecodable bytes, a NUL in the name
            continue
    return payload.decode("utf-8", errors="replace")


def filename_of(part: Message) -> str:
    if part.get("content-disposition") is None and "name" not in str(part.get("content-type", "")).lower():
        # Neither header can name a file (the body parts of nearly every mail): the standard
        # library's parameter parsing of both headers is skipped.
        return ""
    return _named_in_parameters(part)


def _named_in_parameters(part: Message) -> str:
    """The file name from Content-Disposition's filename, else Content-Type's name, decoded."""
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    if not name:
        try:
            name = str(part.get_param("name") or "")
        except Exception:
            name = ""
    name = _undo_surrogates(name)
    name = _decode_words(name) if "=?" in name else name
    return _CONTROL.sub(" ", name).strip()


@dataclass(frozen=True)
class Bodies:
    text: str
    html: str
    has_attachments: bool


def bodies(message: Message) -> Bodies:
    """The first plain-text and HTML bodies, and whether anything else is attached."""
    text = html = ""
    attached = False
    for part in walk(message):
        ctype = part.get_content_type()
        if ctype.startswith("message/"):
            attached = True
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        if ctype == "text/plain" and not text and disposition != "attachment":
            text = part_text(part)
        elif ctype == "text/html" and not html and disposition != "attachment":
            html = part_text(part)
        elif ctype not in ("text/plain", "text/html") or disposition == "attachment":
            attached = True
    return Bodies(text=text, html=html, has_attachments=attached)


# The most MIME parts a mail may have. Every rule (files, guidelines, anonymity) reads every part,
# so a mail with more is refused whole rather than checked in part (a file after part 500 once
# went through unchecked).
MAX_PARTS = 500


def other_texts(message: Message) -> list[str]:
    """Every text a reader sees besides the first plain-text and HTML bodies (``bodies``): further
    text parts of any subtype, text files, and the headers and texts of forwarded mail."""
    texts: list[str] = []
    first = {"text/plain": False, "text/html": False}
    for part in walk(message):
        if part is not message and part.get("subject") is not None:  # a forwarded mail's subject
            texts.append(header_text(part, "Subject"))
        ctype = part.get_content_type()
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        disposition = (part.get_content_disposition() or "").lower()
        if ctype in first and not first[ctype] and disposition != "attachment":
            first[ctype] = True  # the body that ``bodies`` gives
            continue
        texts.append(part_text(part))
    return [text for text in texts if text.strip()]


def walk(message: Message, limit: int = MAX_PARTS) -> list[Message]:
    """Parts in depth-first order, bounded so that hostile nesting cannot run away. A forwarded
    mail in a transfer encoding is read as the mail it holds, like one the parser opened itself."""
    parts: list[Message] = []
    stack: list[Message] = [message]
    while stack and len(parts) < limit:
        part = stack.pop()
        part = encoded_message(part) or part
        parts.append(part)
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in reversed(payload) if isinstance(p, Message))
    return parts


def too_many_parts(message: Message) -> bool:
    return len(walk(message, MAX_PARTS + 1)) > MAX_PARTS


# A forwarded mail in a transfer encoding (RFC 2046 allows none, some clients use base64 anyway):
# the parser reads the encoded text as if it were a mail, which must be decoded and read instead.
ENCODED_MESSAGE_TYPES = ("message/rfc822", "message/global")


def encoded_message(part: Message) -> Message | None:
    """The mail inside a message/rfc822 part sent in base64 or quoted-printable; None for any other
    part (a forwarded mail without encoding is opened by the parser itself)."""
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding not in ("base64", "quoted-printable") or part.get_content_type() not in ENCODED_MESSAGE_TYPES:
        return None
    payload = part.get_payload()
    if isinstance(payload, list):  # what the parser made of the encoded text: write it out again
        text = payload[0].as_string() if payload and isinstance(payload[0], Message) else ""
    else:
        text = str(payload)
    raw = text.encode("ascii", "replace")
    if encoding == "base64":
        try:
            data = binascii.a2b_base64(raw)
        except binascii.Error:
            return None
    else:
        data = quopri.decodestring(raw)
    return parse(data) if data.strip() else None
