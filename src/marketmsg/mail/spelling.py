"""How a reader sees text, for finding an address however it is spelt.

An address reaches a reader in many spellings: full-width (``ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ``, wholly or
partly), with invisible characters inside (zero-width space, soft hyphen, word joiner, NUL), split
by markup (``<b>taro</b>@example.jp``), with character references (``&#64;``) or percent-escapes
(``%40``), or with a quoted local part (``"taro"@example.jp``). ``folded`` turns text into one
canonical form (NFKC, lower case, those removed or decoded) and remembers, for each character of
that form, which characters of the original it came from, so that a match found in the folded
text replaces exactly the original characters that spell it, and nothing around them.

Pure functions; the scrubber and the final leak check both use them, so that what one replaces
the other also sees.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

# Characters a reader does not see: format characters (zero-width space and joiners, soft hyphen,
# bidirectional marks, word joiner, BOM, tag characters), control characters other than line
# breaks (C1 too, U+0080-U+009F: found by the fuzzer), variation selectors, the combining grapheme
# joiner and the Hangul fillers. A double quote is dropped too, so that a quoted local part
# ("taro"@…) reads as the address it is.
_INVISIBLE_CHARS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    '\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e0fff"'
)
# A tag as a browser reads one: a letter after "<" or "</", then anything up to ">" (a NUL or other
# odd character inside still makes a tag, which the reader does not see; found by the fuzzer).
_TAG = r"</?[A-Za-z][^<>]{0,500}>"
TAG_RE = re.compile(_TAG)
_TOKEN = re.compile(
    r"(?P<ref>&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?)"
    r"|(?P<pct>%[0-9A-Fa-f]{2})"
    f"|(?P<tag>{_TAG})"
    f"|(?P<inv>[{_INVISIBLE_CHARS}]+)"
    f"|(?P<plain>[^&%<{_INVISIBLE_CHARS}]+|[&%<])"
)
# Text that might spell an address: anything with an at sign in some form. Everything else is
# returned as it is without folding (most text, and the gateway's hot path).
_MAYBE_ADDRESS = re.compile(r"[@＠﹫]|%40|&#0*64;?|&#[xX]0*40;?|&commat;?", re.IGNORECASE)
# Text of plain ASCII letters and punctuation folds to its own lower case, character for character.
_SIMPLE = re.compile(r"[^&%<" + _INVISIBLE_CHARS + r"\x80-\U0010ffff]*\Z")


_UNSEEN_RE = re.compile(f"[{_INVISIBLE_CHARS[:-1]}]+")  # without the double quote


def plainly(text: str) -> str:
    """Text as plainly spelt as it reads: compatibility forms folded (NFKC), unseen characters
    removed. For text we show but need not map back (a remote server's reply)."""
    return _UNSEEN_RE.sub("", unicodedata.normalize("NFKC", text))


def may_hold_address(text: str) -> bool:
    return _MAYBE_ADDRESS.search(text) is not None


def fold_address(address: str) -> str:
    """An address in the folded form (what ``Folded.text`` holds for it)."""
    return unicodedata.normalize("NFKC", address).lower()


@dataclass(frozen=True)
class Folded:
    """``text`` is the folded form; its character k came from ``original[starts[k]:ends[k]]``."""

    text: str
    starts: list[int]
    ends: list[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original characters behind the folded characters start..end-1."""
        return self.starts[start], self.ends[end - 1]


def _fold_char(char: str) -> str:
    return unicodedata.normalize("NFKC", char).lower()


def _append(out: list[str], starts: list[int], ends: list[int], text: str, start: int, end: int) -> None:
    """Folded ``text`` that stands for original[start:end] as a whole (a reference, an escape)."""
    for char in text:
        out.append(char)
        starts.append(start)
        ends.append(end)


def _plain(out: list[str], starts: list[int], ends: list[int], run: str, at: int) -> None:
    lowered = run.lower()
    if len(lowered) == len(run) and (run.isascii() or unicodedata.is_normalized("NFKC", run)):
        out.append(lowered)  # one folded character per original one: ranges, in C
        starts.extend(range(at, at + len(run)))
        ends.extend(range(at + 1, at + len(run) + 1))
        return
    for offset, char in enumerate(run):
        _append(out, starts, ends, _fold_char(char), at + offset, at + offset + 1)


def folded(text: str, markup: bool = False) -> Folded:
    """The folded form of ``text`` with the way back to the original (see the module's comment).
    With ``markup`` tags are left out, as a reader of the rendered HTML does not see them; without,
    they are read as text (an address inside a tag's attribute is an address too)."""
    if _SIMPLE.match(text):
        return Folded(text.lower(), list(range(len(text))), list(range(1, len(text) + 1)))
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for match in _TOKEN.finditer(text):
        kind, token, at, end = match.lastgroup, match.group(), match.start(), match.end()
        if kind == "plain" or (kind == "tag" and not markup):
            _plain(out, starts, ends, token, at)
        elif kind == "ref":
            decoded = html.unescape(token)
            if decoded == token:
                _plain(out, starts, ends, token, at)
            else:
                _append(out, starts, ends, "".join(_fold_char(c) for c in decoded), at, end)
        elif kind == "pct":
            char = chr(int(token[1:], 16))
            _append(out, starts, ends, _fold_char(char) if char.isprintable() else token.lower(), at, end)
        # An invisible run (or, read as markup, a tag) adds nothing to what a reader reads.
    return Folded("".join(out), starts, ends)
