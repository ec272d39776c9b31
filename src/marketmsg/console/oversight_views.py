"""Staff look-ups across all sellers, and the supervisor's view of the audit log (SPEC F11)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from marketmsg.accounts.models import User
from marketmsg.console import audit, lookup
from marketmsg.console.access import staff_only
from marketmsg.console.models import AuditEntry
from marketmsg.web.access import user_of

PAGE = 200


@staff_only
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    kind, found = ("", [])
    if query:
        kind, conversations = lookup.find(query)
        found = list(conversations)
        audit.record(user_of(request), audit.Action.SEARCH, detail=f"{kind}: {query}")
    return render(request, "console/search.html", {"q": query, "kind": kind, "conversations": found})


def _day(value: str) -> datetime | None:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


@staff_only
def audit_log(request: HttpRequest) -> HttpResponse:
    if not user_of(request).is_supervisor:
        raise Http404("Only supervisors read the audit log.")
    entries = AuditEntry.objects.select_related("staff", "claim__order")
    filters = {
        key: request.GET.get(key, "").strip() for key in ("staff", "action", "claim", "since", "until")
    }
    if filters["staff"].isdigit():
        entries = entries.filter(staff_id=int(filters["staff"]))
    if filters["action"] in AuditEntry.Action.values:
        entries = entries.filter(action=filters["action"])
    if filters["claim"].isdigit():
        entries = entries.filter(claim_id=int(filters["claim"]))
    since, until = _day(filters["since"]), _day(filters["until"])
    if since:
        entries = entries.filter(at__gte=since)
    if until:
        entries = entries.filter(at__lt=until + timedelta(days=1))
    return render(
        request,
        "console/audit.html",
        {
            "entries": entries.order_by("-at", "-id")[:PAGE],
            "filters": filters,
            "staff_members": User.objects.filter(role=User.Role.STAFF).order_by("name"),
            "actions": AuditEntry.Action.choices,
            "page": PAGE,
        },
    )
