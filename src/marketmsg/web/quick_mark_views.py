""" "No reply needed" in one click from the message list, per row or for a selection, with undo
for a short while (``UNDO_SECONDS``): the marked IDs wait in the session, and the list offers to
take the marks back until then. The checkbox in the reply form stays as the other way."""

from __future__ import annotations

import time

from django.contrib import messages as notices
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from marketmsg.conversations import compose
from marketmsg.web import access
from marketmsg.web.access import seller_only

UNDO_SECONDS = 120
SESSION_KEY = "no_reply_undo"


def undo_offer(request: HttpRequest) -> int:
    """How many marks the list may still offer to take back (0: none, or too late)."""
    offer = request.session.get(SESSION_KEY)
    if not offer or time.time() - offer["at"] > UNDO_SECONDS:
        return 0
    return len(offer["ids"])


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target.startswith("/messages/") and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect("seller-messages")


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and len(v) < 19]


@seller_only
@require_POST
def mark(request: HttpRequest) -> HttpResponse:
    chosen = _ids([request.POST["one"]] if request.POST.get("one") else request.POST.getlist("ids"))
    if not chosen:
        notices.error(request, _("Tick the messages that need no reply first."))
        return _back(request)
    marked = compose.mark_many_no_reply_needed(
        access.seller_account(request), chosen, access.user_of(request)
    )
    request.session[SESSION_KEY] = {"ids": marked, "at": time.time()}
    notices.success(
        request,
        ngettext(
            "Marked %(count)d message as no reply needed. Nothing was sent to the buyer.",
            "Marked %(count)d messages as no reply needed. Nothing was sent to the buyers.",
            len(marked),
        )
        % {"count": len(marked)},
    )
    return _back(request)


@seller_only
@require_POST
def undo(request: HttpRequest) -> HttpResponse:
    offer = request.session.pop(SESSION_KEY, None)
    if not offer or time.time() - offer["at"] > UNDO_SECONDS:
        notices.error(
            request, _("It is too late to undo: open the conversation and answer the buyer instead.")
        )
        return _back(request)
    restored = compose.undo_no_reply_needed(
        access.seller_account(request), offer["ids"], access.user_of(request)
    )
    notices.success(
        request,
        ngettext(
            "%(count)d message awaits a reply again.", "%(count)d messages await a reply again.", restored
        )
        % {"count": restored},
    )
    return _back(request)
