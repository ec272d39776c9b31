"""The message list's active filters as removable chips, and the way out of an empty result.

Each chip's link is the same view without that one filter; a view that finds nothing offers the
search alone, in every state and at any date."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import QueryDict
from django.utils.translation import gettext as _

from marketmsg.conversations.listing import ListQuery


@dataclass(frozen=True)
class Chip:
    label: str
    remove_url: str


def _without(params: QueryDict, *names: str, **extra: str) -> str:
    kept = params.copy()
    for name in (*names, "page"):
        kept.pop(name, None)
    for name, value in extra.items():
        kept[name] = value
    return "?" + kept.urlencode()


def chips(query: ListQuery, params: QueryDict) -> list[Chip]:
    periods = {
        "today": _("Today"),
        "7": _("Last 7 days"),
        "30": _("Last 30 days"),
        "90": _("Last 90 days"),
        "custom": _("Custom range"),
    }
    found: list[Chip] = []
    if query.search:
        found.append(Chip(_("Search: %(text)s") % {"text": query.search}, _without(params, "q", "searching")))
    if query.awaiting_reply:
        found.append(Chip(_("Awaiting a reply only"), _without(params, "status", "searching", box=query.box)))
    if query.period:
        period = periods[query.period]
        if query.period == "custom":
            period = f"{query.date_from or '…'} – {query.date_to or '…'}"
        found.append(
            Chip(_("Period: %(period)s") % {"period": period}, _without(params, "period", "from", "to"))
        )
    if query.attachments_only:
        found.append(Chip(_("With attachments only"), _without(params, "attachments")))
    return found


def widen_url(query: ListQuery) -> str:
    """The search alone: every state, any date, with or without files."""
    wide = QueryDict(mutable=True)
    wide.update({"box": query.box, "q": query.search, "searching": "1"})
    return "?" + wide.urlencode()
