"""Our own links never travel on: a seller who answers a relayed buyer mail quotes it, and the quote
carries the signed "no reply needed" link (SPEC F4) that only the seller should hold. Passed on, it
would let the buyer mark their own message as needing no answer.

Pure functions. The link's path is ``/no-reply/<signed token>/``, the token being Django's signed
value ``payload:timestamp:signature``: that shape is what is looked for, on any host (the public
address may have changed since the mail was sent).
"""

from __future__ import annotations

import re

PATH = "/no-reply/"
_TOKEN = r"[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+/?"
_URL = re.compile(r"(?:https?://[^\s<>\"']*?)?" + re.escape(PATH) + _TOKEN)
# A whole line that holds one (the quoted footer: "> このメッセージを…: https://…/no-reply/…/").
_LINE = re.compile(r"^[^\n]*" + re.escape(PATH) + _TOKEN + r"[^\n]*(?:\n|$)", re.MULTILINE)
# A link around anything, in HTML (the footer's HTML form), with what it shows.
_ANCHOR = re.compile(r"<a\b[^>]*" + re.escape(PATH) + _TOKEN + r"[^>]*>.*?</a\s*>", re.IGNORECASE | re.DOTALL)


def without_own_links(text: str) -> str:
    """``text`` without the lines that carry one of our links."""
    if PATH not in text:
        return text
    return _URL.sub("", _LINE.sub("", text))


def without_own_links_html(markup: str) -> str:
    """``markup`` without our links: each anchor with its words, and any bare link left."""
    if PATH not in markup:
        return markup
    return _URL.sub("", _ANCHOR.sub("", markup))
