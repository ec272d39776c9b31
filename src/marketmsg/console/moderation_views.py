"""Marketplace staff: the messages the communication guidelines blocked, by rule (SPEC F10, F11).

Each row shows who wrote to whom, by which channel, the rules that fired with their explanations,
and the text as the seller wrote it with the offending words marked. A bar per rule shows what
sellers trip over most in the last 30 days.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from marketmsg.console.access import staff_only
from marketmsg.conversations import screening
from marketmsg.conversations.models import Message
from marketmsg.web.guideline_views import marked_body

SHOWN = 100
CHART_DAYS = 30


@staff_only
def blocked_messages(request: HttpRequest) -> HttpResponse:
    rule = request.GET.get("rule", "")
    known = [*screening.site_rules().severity, screening.OPTED_OUT]
    blocked = Message.objects.filter(state=Message.State.BLOCKED)
    if rule in known:
        blocked = blocked.filter(guideline_rules__contains=rule)
    else:
        rule = ""
    shown = list(
        blocked.select_related(
            "conversation__seller", "conversation__buyer__user", "conversation__order"
        ).order_by("-created_at", "-pk")[:SHOWN]
    )
    for message in shown:
        message.marked = marked_body(message)  # type: ignore[attr-defined]
        message.elsewhere = [  # type: ignore[attr-defined]
            f["text"]
            for f in message.guideline_findings
            if f.get("severity") == "block" and f.get("start", 0) < 0
        ]
        message.rules = message.guideline_rules.split()  # type: ignore[attr-defined]
    return render(
        request,
        "console/blocked.html",
        {"messages_shown": shown, "rule": rule, "known": known, "chart": _chart(known)},
    )


def _chart(known: list[str]) -> list[dict[str, Any]]:
    """Blocked messages per rule in the last CHART_DAYS days, widest bar = most."""
    since = timezone.now() - timedelta(days=CHART_DAYS)
    combos = (
        Message.objects.filter(state=Message.State.BLOCKED, created_at__gte=since)
        .values_list("guideline_rules")
        .annotate(n=Count("pk"))
    )
    counts = dict.fromkeys(known, 0)
    for rules, n in combos:
        for name in rules.split():
            if name in counts:
                counts[name] += n
    most = max(counts.values(), default=0) or 1
    return [{"rule": r, "count": n, "width": round(100 * n / most)} for r, n in counts.items()]
