"""Replacing real addresses with relay addresses, and proving none is left.

Pure functions. ``Replacements`` maps each real address (lower-case) to the relay address that
stands for its owner towards the recipient.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from urllib.parse import unquote

import nh3

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
    """What to look for: each address; with ``percent`` also its ``%40`` spelling; with ``nul``
    also its UTF-16 spelling read as 8-bit text (a NUL between letters), which a part that lies
    about its charset carries through decoding unchanged."""
    found = [(real, real) for real in reals]
    if percent:
        found += [(real.replace("@", "%40"), real) for real in reals if "@" in real]
    if nul:
        found = [("\x00".join(real), real) for real in reals] + found
    return found


def scrub_text(text: str, replacements: Replacements) -> str:
    """Every real address in ``text`` (any case, also with its "@" spelt ``%40`` as URLs and
    RFC 2231 parameters do) replaced by its relay address."""
    if not replacements or ("@" not in text and "%40" not in text):
        return text
    folded = text.lower()
    if len(folded) != len(text):  # a few characters change length when lower-cased: go case by case
        folded = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    mapping = {k.lower(): v for k, v in replacements.items() if k}
    spans = _spans(folded, _needles(_ordered(mapping), percent="%40" in folded, nul="\x00" in folded))
    if not spans:
        return text
    out, last = [], 0
    for start, end, real in spans:
        out += [text[last:start], mapping[real]]
        last = end
    out.append(text[last:])
    return "".join(out)


def scrub_bytes(data: bytes, replacements: Replacements) -> bytes:
    """Byte-level replacement for binary parts (ASCII and UTF-16 spellings, any ASCII case)."""
    mapping = {k.lower(): v for k, v in replacements.items() if k}
    reals = [r for r in _ordered(mapping) if r.isascii()]
    if not reals or not data:
        return data
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
    """Sanitized HTML with real addresses replaced, including entity- and percent-encoded ones."""
    rewriter = _HtmlRewriter(replacements)
    rewriter.feed(sanitize_html(markup))
    rewriter.close()
    return "".join(rewriter.out)


def leaked(text: str, reals: list[str]) -> list[str]:
    """The real addresses still present in ``text``, in any case, raw or HTML/percent-decoded."""
    candidates = [text.lower()]
    if "&" in text:
        candidates.append(html.unescape(text).lower())
    if "%" in text:
        candidates.append(unquote(text).lower())
    return [real for real in reals if real and any(real in c for c in candidates)]
