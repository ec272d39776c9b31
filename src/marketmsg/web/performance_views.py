"""応答時間 — the response-time performance page (SPEC F6), for a seller and for staff."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from marketmsg.accounts.models import SellerAccount
from marketmsg.conversations import metrics
from marketmsg.conversations.listing import row_facts
from marketmsg.conversations.models import Message
from marketmsg.web import access, charts
from marketmsg.web.access import seller_only
from marketmsg.web.staff_views import staff_only


@seller_only
def my_performance(request: HttpRequest) -> HttpResponse:
    return _page(request, access.seller_account(request), staff=False)


@staff_only
def seller_performance(request: HttpRequest, seller_id: int) -> HttpResponse:
    seller = SellerAccount.objects.filter(pk=seller_id).first()
    if seller is None:
        raise Http404("No such seller.")
    return _page(request, seller, staff=True)


@staff_only
def ranking(request: HttpRequest) -> HttpResponse:
    """Every seller with messages due in the last 30 days, the weakest on-time share first."""
    figures = metrics.ranking(30)
    names = dict(SellerAccount.objects.filter(pk__in=[f[0] for f in figures]).values_list("pk", "name"))
    table = [
        {"id": s, "name": names.get(s, "?"), "due": due, "share": on_time / due}
        for s, due, on_time in sorted(figures, key=lambda f: (f[2] / f[1], -f[1]))
    ]
    return render(request, "web/staff_performance.html", {"sellers": table})


def _page(request: HttpRequest, seller: SellerAccount, staff: bool) -> HttpResponse:
    now = timezone.now()
    days = int(request.GET.get("days", "30")) if request.GET.get("days", "30") in ("7", "30", "90") else 30
    figures = metrics.figures(seller.pk, days, now)  # only the period shown: each costs a scan
    zone = timezone.get_current_timezone_name()
    daily = metrics.daily(seller.pk, zone, now)
    risky = list(
        Message.objects.filter(pk__in=metrics.at_risk(seller.pk, now))
        .only("id", "conversation_id", "subject", "created_at")
        .order_by("created_at")
    )
    facts = row_facts(risky)
    for message in risky:
        message.facts = facts[message.conversation_id]  # type: ignore[attr-defined]
        message.deadline = message.created_at + timedelta(seconds=metrics.ON_TIME_SECONDS)  # type: ignore[attr-defined]
    return render(
        request,
        "web/performance.html",
        {
            "seller": seller,
            "staff": staff,
            "days": days,
            "figures": figures,
            "periods": metrics.PERIODS,
            "risky": risky,
            "at_risk_hours": settings.AT_RISK_HOURS,
            "chart": charts.response_chart(daily, _("Messages received"), _("Answered within 24 hours")),
            "chart_days": metrics.CHART_DAYS,
        },
    )
