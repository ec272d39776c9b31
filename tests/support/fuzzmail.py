"""Hypothesis strategies for hostile mail, built as raw bytes (a mail library would repair it).

MIME trees with odd and unknown charsets, broken and missing boundaries, deep nesting, huge
headers, NULs, bare CR and LF, RFC 2047 encoded words that lie about their charset or do not
decode, RFC 2231 parameters in pieces, forwarded messages and delivery reports. ``secret`` (the
sender's real address) is hidden in some of the places, in every spelling a reader still recognises
(``spelt``), so the same mail also tests anonymity.
"""

from __future__ import annotations

import base64
import quopri

from hypothesis import strategies as st

CHARSETS = ["utf-8", "iso-2022-jp", "shift_jis", "euc-jp", "iso-8859-1", "utf-7", "x-no-such", "", "utf-16"]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "garbage"]
TEXTS = ["ご注文の件です。", "Hello\tworld", "丸文字①②③ ㈱ ～", "=?", "\x00\x01\x7f", "a" * 500, "", "é à ü"]


# Characters nobody sees, that a sender may put inside an address (zero-width space, soft hyphen,
# word joiner, BOM, zero-width joiner, combining grapheme joiner).
INVISIBLE = ["\u200b", "\u00ad", "\u2060", "\ufeff", "\u200d", "\u034f"]
SPELLINGS = ["plain", "fullwidth", "fullwidth_at", "invisible", "quoted", "tags", "reference", "percent"]


@st.composite
def spelt(draw: st.DrawFn, secret: str) -> str:
    """``secret`` as a reader would still read it: full-width wholly or at the @, with an invisible
    character inside, with a quoted local part, split by tags, as character references, or %40."""
    local, _, domain = secret.partition("@")
    style = draw(st.sampled_from(SPELLINGS))
    if style == "fullwidth":
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in secret)
    if style == "fullwidth_at":
        return f"{local}＠{domain}"
    if style == "invisible":
        at = draw(st.integers(1, max(1, len(secret) - 1)))
        return secret[:at] + draw(st.sampled_from(INVISIBLE)) + secret[at:]
    if style == "quoted":
        return f'"{local}"@{domain}'
    if style == "tags":
        return f"<b>{local}</b>@{domain}"
    if style == "reference":
        return "".join(f"&#{ord(c)};" for c in local) + "@" + domain
    if style == "percent":
        return secret.replace("@", "%40")
    return secret


def _encode_body(text: str, charset: str, encoding: str) -> bytes:
    try:
        data = text.encode(charset or "utf-8")
    except (LookupError, UnicodeError):
        data = text.encode("utf-8")
    if encoding == "base64":
        return base64.encodebytes(data)
    if encoding == "quoted-printable":
        return quopri.encodestring(data)
    return data


@st.composite
def encoded_word(draw: st.DrawFn, secret: str) -> str:
    text = draw(st.sampled_from([*TEXTS, secret, f"Re: {secret}"]))
    charset = draw(st.sampled_from(CHARSETS))
    kind = draw(st.sampled_from(["B", "Q", "b", "X"]))
    raw = text.encode("utf-8")
    if kind in ("B", "b"):
        payload = base64.b64encode(raw).decode()
        if draw(st.booleans()):
            payload = payload[: max(1, len(payload) - draw(st.integers(1, 3)))]  # broken padding
    else:
        payload = "".join(f"={byte:02X}" for byte in raw)
    return f"=?{charset}?{kind}?{payload}?="


@st.composite
def header_value(draw: st.DrawFn, secret: str) -> str:
    pieces = draw(
        st.lists(
            st.one_of(
                st.sampled_from(TEXTS),
                encoded_word(secret),
                st.just(f"<{secret}>"),
                st.just(secret.upper()),
                spelt(secret),
                st.text(max_size=40),
            ),
            min_size=1,
            max_size=4,
        )
    )
    value = " ".join(pieces)
    if draw(st.integers(0, 9)) == 0:
        value = value + " " + "x" * draw(st.integers(1000, 60000))  # a huge header
    return value


def _clean(text: str) -> str:
    # A header line cannot hold a line break of its own: turn any into folding or bare ones.
    return text.replace("\r\n", "\r\n ").replace("\n", "\n\t")


@st.composite
def mime_part(draw: st.DrawFn, secret: str, depth: int = 0) -> bytes:
    kinds = ["text", "html", "binary", "garbage", "dsn"]
    if depth < 25:
        kinds += ["multipart", "multipart", "rfc822"]
    kind = draw(st.sampled_from(kinds))
    headers: list[str] = []
    body: bytes
    if kind == "multipart":
        boundary = draw(st.sampled_from(["b1", "=_", "a" * 80, "", "same", '"quoted b"']))
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "x-odd"]))
        headers.append(f'Content-Type: multipart/{subtype}; boundary="{boundary.strip(chr(34))}"')
        children = draw(st.lists(mime_part(secret, depth + 1), min_size=0, max_size=3))
        marker = draw(st.sampled_from([boundary.strip('"'), "wrong", boundary.strip('"')]))
        body = b"preamble\r\n"
        for child in children:
            body += f"--{marker}\r\n".encode() + child + b"\r\n"
        if draw(st.booleans()):  # sometimes no closing boundary at all
            body += f"--{marker}--\r\n".encode()
    elif kind == "rfc822":
        headers.append("Content-Type: message/rfc822")
        body = draw(whole_mail(secret, depth + 1))
    elif kind == "dsn":
        headers.append("Content-Type: message/delivery-status")
        body = b"Reporting-MTA: dns; mx.example\r\n\r\n"
        body += f"Final-Recipient: rfc822; {secret}\r\nAction: failed\r\n".encode()
    else:
        charset = draw(st.sampled_from(CHARSETS))
        encoding = draw(st.sampled_from(ENCODINGS))
        ctype = {"text": "text/plain", "html": "text/html", "binary": "application/pdf", "garbage": "x/??"}[
            kind
        ]
        headers.append(f"Content-Type: {ctype}; charset={charset}")
        headers.append(f"Content-Transfer-Encoding: {encoding}")
        hidden = draw(spelt(secret))
        text = draw(
            st.sampled_from([*TEXTS, f"連絡先 {hidden}", f'<a href="mailto:{secret}">x</a>', f"> {hidden}"])
        )
        if kind == "html":
            text = f"<html><body><p>{text}</p><!-- {secret} --><img alt='{secret}'></body></html>"
        body = _encode_body(text, charset, encoding)
        if draw(st.booleans()):
            name = draw(
                st.sampled_from(
                    [
                        f"filename*=utf-8''{secret.replace('@', '%40')}.pdf",
                        "filename*0*=utf-8''%E3%81%82; filename*2=b.pdf",
                        "filename*=bogus'ja'%ZZ%E3",
                        'filename="=?utf-8?B?5L2P5omA?=.pdf"',
                        f'name="{secret}.txt"',
                    ]
                )
            )
            headers.append(f"Content-Disposition: attachment; {name}")
    for name, value in draw(
        st.lists(
            st.tuples(st.sampled_from(["X-Note", "Content-Description"]), header_value(secret)), max_size=2
        )
    ):
        headers.append(f"{name}: {_clean(value)}")
    return "\r\n".join(headers).encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body


@st.composite
def whole_mail(draw: st.DrawFn, secret: str, depth: int = 0, to: str = "x@marketplace.example") -> bytes:
    lines = [
        f"From: {_clean(draw(header_value(secret)))} <{secret}>",
        f"To: {to}",
        f"Subject: {_clean(draw(header_value(secret)))}",
        "MIME-Version: 1.0",
    ]
    for name in draw(
        st.lists(st.sampled_from(["Reply-To", "Cc", "Sender", "X-Mailer", "Comments"]), max_size=3)
    ):
        lines.append(f"{name}: {_clean(draw(header_value(secret)))}")
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n"
    mail = head + draw(mime_part(secret, depth))
    # Line-ending and byte damage anywhere in the mail.
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, max(0, len(mail) - 1)))
        junk = draw(st.sampled_from([b"\x00", b"\r", b"\n", b"\n.\n", b"\r\n.\r\n", b"\xff\xfe", b"\x1b$B"]))
        mail = mail[:at] + junk + mail[at:]
    return mail
