"""Replacing real addresses with relay addresses, and proving none is left.

Pure functions. ``Replacements`` maps each real address (lower-case) to the relay address that
stands for its owner towards the recipient.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from urllib.parse import unquote

import nh3

from marketmsg.mail import spelling

Replacements = Mapping[str, str]

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup", "dd", "div",
    "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre",
    "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "*": {"align", "style", "title", "dir", "lang", "class"},
    "a": {"href"},
    "font": {"color", "face", "size"},
    "td": {"colspan", "rowspan", "width", "valign"},
    "th": {"colspan", "rowspan", "width", "valign"},
    "table": {"width", "border", "cellpadding", "cellspacing"},
}


def _ordered(replacements: Replacements) -> tuple[str, ...]:
    # Longest first, so that an address inside a longer one is not half-replaced.
    return tuple(sorted({r.lower() for r in replacements if r}, key=lambda r: (-len(r), r)))


def _spans(haystack: str | bytes, needles: Sequence[tuple[str | bytes, str]]) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, real) matches, longest needle first; plain find() in C, no regex.

    A seller account may have hundreds of addresses; compiling them into a pattern per message
    would cost more than the search itself.
    """
    found: list[tuple[int, int, str]] = []
    for needle, real in needles:
        at = haystack.find(needle)  # type: ignore[arg-type]
        while at != -1:
            end = at + len(needle)
            if all(end <= s or at >= e for s, e, _ in found):
                found.append((at, end, real))
            at = haystack.find(needle, end)  # type: ignore[arg-type]
    return sorted(found)


def _needles(reals: tuple[str, ...], percent: bool, nul: bool = False) -> list[tuple[str, str]]:
    """What to look for in bytes: each address; with ``percent`` also its ``%40`` spelling; with
    ``nul`` also its UTF-16 spelling read as 8-bit text (a NUL between letters)."""
    found = [(real, real) for real in reals]
    if percent:
        found += [(real.replace("@", "%40"), real) for real in reals if "@" in real]
    if nul:
        found = [("\x00".join(real), real) for real in reals] + found
    return found


def scrub_text(text: str, replacements: Replacements) -> str:
    """Every real address in ``text`` replaced by its relay address, in whatever spelling a reader
    would still recognise it (any case, full-width, with invisible characters or markup inside,
    character references, ``%40``, a quoted local part: see ``mail.spelling``)."""
    if not replacements or not spelling.may_hold_address(text):
        return text
    mapping = {spelling.fold_address(k): v for k, v in replacements.items() if k}
    text = _replaced(text, spelling.folded(text), mapping, replacements)
    if "<" in text:  # and read as markup: an address that tags split ("<b>taro</b>@…")
        text = _replaced(text, spelling.folded(text, markup=True), mapping, replacements)
    return text


def _replaced(text: str, form: spelling.Folded, mapping: dict[str, str], replacements: Replacements) -> str:
    spans = _spans(form.text, [(real, real) for real in _ordered(mapping)])
    if not spans:
        return text
    out, last = [], 0
    for start, end, real in spans:
        begin, stop = form.original_span(start, end)
        if begin < last:  # two matches inside one character reference: the first one took it
            continue
        if begin > last and text[begin - 1] == '"' and '"' in text[begin:stop]:
            begin -= 1  # the opening quote of a quoted local part goes with it
        # Markup inside the address stays, so that "<b>taro</b>@…" keeps its tags balanced.
        kept = "".join(spelling.TAG_RE.findall(text[begin:stop]))
        out += [text[last:begin], mapping[real] + scrub_text(kept, replacements)]
        last = stop
    out.append(text[last:])
    return "".join(out)


# A file is read as text when at most one byte in a hundred is not UTF-8 text (an undecodable byte
# or a NUL); images, PDFs and archives fail this within their first few KB. (Control characters do
# not count: text broken by a mail client carries them, and binary data fails on the rest.)
_STRAY = re.compile("[\udc80-\udcff\x00]")
_SNIFF = 4096
# Below this size every file is also read as text, whatever its bytes: cheap, and the final leak
# check reads every part as text too (mixtures of text and junk, broken containers carried whole).
_ALWAYS_READ = 65536


def readings(data: bytes) -> list[str]:
    """The codecs a person (or the final leak check, parsing.decode_bytes) may read a file's bytes
    in, each able to give the same bytes back, to be scrubbed in each one after the other: UTF-16
    when it has its byte-order mark or a NUL beside most letters; UTF-8 (a small file always, its
    stray bytes kept; a larger one when it is text); Shift_JIS (cp932) when the bytes are exactly
    that. None for a larger binary file (an image, a PDF, an archive), which the byte-level
    replacement alone covers."""
    found = []
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        found.append("utf-16")
    elif data.count(0) * 3 > len(data):  # the byte order that reads as letters
        found.append(max(("utf-16-le", "utf-16-be"), key=lambda c: len(_letters(data.decode(c, "ignore")))))
    if len(data) <= _ALWAYS_READ or _mostly_utf8(data):
        found.append("utf-8")
    try:
        if data.decode("cp932").encode("cp932") == data:  # a few characters have two byte forms
            found.append("cp932")
    except UnicodeError:
        pass
    return found


def _letters(text: str) -> bytes:
    return text.encode("ascii", "ignore")


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 text with at most 1 % stray bytes or NULs. Judged on the opening bytes first, with the
    share applied to them, so that a large binary file (an image, a PDF) is never decoded whole;
    the whole file is counted only up to the allowance (a 10 MB file of junk once took 1 s and
    440 MB here, a list entry per stray byte)."""
    head = data[:_SNIFF]
    if _strays(head.decode("utf-8", "surrogateescape"), max(16, len(head) // 100)):
        return False  # images, PDFs and archives stop here
    return not _strays(data.decode("utf-8", "surrogateescape"), max(16, len(data) // 100))


def _strays(text: str, allowed: int) -> bool:
    """Whether ``text`` holds more than ``allowed`` stray bytes, counting no further than that."""
    return next(itertools.islice(_STRAY.finditer(text), allowed, None), None) is not None


_ERRORS = {"utf-8": "surrogateescape", "cp932": "strict"}


def scrub_bytes(data: bytes, replacements: Replacements) -> bytes:
    """Replacement in a file: in every spelling ``scrub_text`` knows when the file is text (a .txt
    sent as a binary type, text with stray bytes), and byte by byte in any case (ASCII and UTF-16
    spellings, ``%40``) in any file."""
    mapping = {k.lower(): v for k, v in replacements.items() if k}
    if not mapping or not data:
        return data
    for codec in readings(data):
        errors = _ERRORS.get(codec, "strict")
        try:
            text = data.decode(codec, errors)
        except UnicodeError:  # a first reading's replacement made the bytes unreadable in this one
            continue
        cleaned = scrub_text(text, replacements)
        if cleaned != text:
            data = cleaned.encode(codec, errors)
    reals = [r for r in _ordered(mapping) if r.isascii()]
    for codec in ("ascii", "utf-16-le", "utf-16-be"):
        lowered = data.lower()
        needles = _needles(tuple(reals), percent="%40".encode(codec) in lowered)
        spans = _spans(lowered, [(needle.encode(codec), real) for needle, real in needles])
        if not spans:
            continue
        out, last = [], 0
        for start, end, real in spans:
            out += [data[last:start], mapping[real].encode(codec)]
            last = end
        out.append(data[last:])
        data = b"".join(out)
    return data


class _HtmlRewriter(HTMLParser):
    """Re-serialises HTML with every text node and attribute value decoded, scrubbed and re-escaped.

    Decoding first defeats hiding an address behind character references (``&#116;aro@…``) or
    percent-encoding inside links (``mailto:taro%40…``).
    """

    def __init__(self, replacements: Replacements) -> None:
        super().__init__(convert_charrefs=True)
        self.replacements = replacements
        self.out: list[str] = []

    def _attrs(self, attrs: list[tuple[str, str | None]]) -> str:
        parts = []
        for name, value in attrs:
            if value is None:
                parts.append(f" {name}")
                continue
            value = scrub_text(value, self.replacements)
            if "%" in value:
                unquoted = unquote(value)
                cleaned = scrub_text(unquoted, self.replacements)
                if cleaned != unquoted:
                    value = cleaned
            parts.append(f' {name}="{html.escape(value, quote=True)}"')
        return "".join(parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(f"<{tag}{self._attrs(attrs)}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(f"<{tag}{self._attrs(attrs)} />")

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(scrub_text(data, self.replacements), quote=False))


def sanitize_html(markup: str) -> str:
    """Allow-listed tags and attributes only: no scripts, forms, remote images or tracking pixels."""
    return nh3.clean(
        markup,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
    )


def scrub_html(markup: str, replacements: Replacements) -> str:
    """Sanitized HTML with real addresses replaced, including entity- and percent-encoded ones and
    ones that markup splits (``<b>taro</b>@example.jp``): after each text node and attribute, the
    whole document is read once more as a reader sees it, across its tags."""
    rewriter = _HtmlRewriter(replacements)
    rewriter.feed(sanitize_html(markup))
    rewriter.close()
    return scrub_text("".join(rewriter.out), replacements)


def leaked_in_file(data: bytes, reals: list[str]) -> list[str]:
    """The real addresses still in a file, read the ways ``scrub_bytes`` reads it: as text in
    each of its ``readings``, and byte by byte (ASCII and UTF-16 in any case, ``%40``). A large
    binary file is not folded as text: that cost seconds per delivery for a 5 MB photo, and no
    reader reads spellings inside image data."""
    found = []
    codecs = readings(data)
    for codec in codecs:
        found += leaked(data.decode(codec, _ERRORS.get(codec, "replace")), reals)
    if codecs:  # text, or small: also as UTF-16 text pieces inside other bytes (then withheld)
        found += leaked(data.decode("utf-16-le", errors="ignore"), reals)
    lowered = data.lower()
    ascii_reals = [r for r in reals if r and r.isascii()]
    for codec in ("ascii", "utf-16-le", "utf-16-be"):
        for needle, real in _needles(tuple(r.lower() for r in ascii_reals), percent=True):
            if needle.encode(codec) in lowered:
                found.append(real)
    return list(dict.fromkeys(found))


def leaked(text: str, reals: list[str]) -> list[str]:
    """The real addresses still present in ``text``, in any spelling ``scrub_text`` replaces."""
    if not spelling.may_hold_address(text):
        return []
    forms = [spelling.folded(text).text]
    if "<" in text:
        forms.append(spelling.folded(text, markup=True).text)
    folded_reals = [(real, spelling.fold_address(real)) for real in reals if real]
    return [real for real, form in folded_reals if any(form in f for f in forms)]
