"""応答時間 — the response-time performance page (SPEC F6), for a seller and for staff."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from marketmsg.accounts.models import SellerAccount
from marketmsg.conversations.listing import row_facts
from marketmsg.conversations.models import Message
from marketmsg.metrics import response_times
from marketmsg.web import access, charts
from marketmsg.web.access import seller_only


@seller_only
def my_performance(request: HttpRequest) -> HttpResponse:
    return page(request, access.seller_account(request), staff=False)


def page(request: HttpRequest, seller: SellerAccount, staff: bool) -> HttpResponse:
    now = timezone.now()
    days = int(request.GET.get("days", "30")) if request.GET.get("days", "30") in ("7", "30", "90") else 30
    figures = response_times.figures(seller.pk, days, now)  # only the period shown: each costs a scan
    zone = timezone.get_current_timezone_name()
    daily = response_times.daily(seller.pk, zone, now)
    risky = list(
        Message.objects.filter(pk__in=response_times.at_risk(seller.pk, now))
        .only("id", "conversation_id", "subject", "created_at")
        .order_by("created_at")
    )
    facts = row_facts(risky)
    for message in risky:
        message.facts = facts[message.conversation_id]  # type: ignore[attr-defined]
        message.deadline = message.created_at + timedelta(seconds=response_times.ON_TIME_SECONDS)  # type: ignore[attr-defined]
    return render(
        request,
        "web/performance.html",
        {
            "seller": seller,
            "staff": staff,
            "days": days,
            "figures": figures,
            "periods": response_times.PERIODS,
            "risky": risky,
            "at_risk_hours": settings.AT_RISK_HOURS,
            "chart": charts.response_chart(daily, _("Messages received"), _("Answered within 24 hours")),
            "chart_days": response_times.CHART_DAYS,
        },
    )
