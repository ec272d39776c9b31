"""Icons (emoji) beside words are decoration for the eye: screen readers should read the words.

Pages put an emoji before a label ("📥 メッセージ", "⚠ …"). This middleware wraps each such leading
emoji, when words follow it in the same text, in ``<span aria-hidden="true">``; an emoji that
stands alone keeps its own label (title / aria-label) and is left as it is. Doing it once here
keeps the templates readable and no page can forget it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# Pictographs, symbols and dingbats as pages use them, with their variation selector.
_EMOJI = (
    "[\U0001f300-\U0001faff\u2190-\u21ff\u2300-\u23ff\u2460-\u24ff\u25a0-\u27bf\u2900-\u297f"
    "\u2b00-\u2bff\u3030\u303d]\ufe0f?"
)
# An opening tag, then an emoji (or two), a space, and a word character of the label.
_LEADING = re.compile(rf"(<([a-zA-Z][a-zA-Z0-9]*)\b[^<>]*>)(\s*)((?:{_EMOJI})+)( +)(?=[^\s<])")
# Where markup is not markup: the text shows as it is (a draft being edited, the window's title).
_RAW = {"textarea", "title", "option", "script", "style", "pre"}


def _wrap(found: re.Match[str]) -> str:
    tag, name, space, icon, gap = found.groups()
    if name.lower() in _RAW:
        return found.group(0)
    return f'{tag}{space}<span aria-hidden="true">{icon}</span>{gap}'


def hide_icons(html: str) -> str:
    return _LEADING.sub(_wrap, html)


class HideIconEmojiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not getattr(response, "streaming", False)
            and response.get("Content-Type", "").startswith("text/html")
            and response.status_code == 200
        ):
            response.content = hide_icons(response.content.decode(response.charset or "utf-8")).encode(
                response.charset or "utf-8"
            )
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
