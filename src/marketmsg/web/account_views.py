"""The user's own settings: time zone; for a buyer, which seller messages they receive."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.contrib import messages as notices
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from marketmsg.accounts.profiles import is_buyer
from marketmsg.web.access import user_of
from marketmsg.web.twofactor_views import may_use

# The zones a Japanese marketplace's sellers and buyers most often live in, then all the others.
COMMON_ZONES = ("Asia/Tokyo", "UTC", "Asia/Seoul", "Asia/Shanghai", "America/Los_Angeles", "Europe/London")


def _common_names() -> dict[str, str]:
    return {
        "Asia/Tokyo": _("Japan (Tokyo)"),
        "UTC": _("Coordinated Universal Time"),
        "Asia/Seoul": _("Korea (Seoul)"),
        "Asia/Shanghai": _("China (Shanghai)"),
        "America/Los_Angeles": _("US Pacific (Los Angeles)"),
        "Europe/London": _("United Kingdom (London)"),
    }


def zone_label(zone: str, now: datetime, names: dict[str, str]) -> str:
    """'(UTC+09:00) Japan (Tokyo)' for a common zone, '(UTC-03:00) Sao Paulo — America/Sao_Paulo'
    for the others: the offset first, so that the list reads like a clock."""
    offset = now.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%z")
    shown = f"(UTC{offset[:3]}:{offset[3:]})"
    if zone in names:
        return f"{shown} {names[zone]}"
    return f"{shown} {zone.rsplit('/', 1)[-1].replace('_', ' ')} — {zone}"


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    error = ""
    if request.method == "POST" and request.POST.get("form") == "seller_messages" and is_buyer(user):
        buyer = user.buyer
        buyer.declines_unprompted = not request.POST.get("unprompted")
        buyer.save(update_fields=["declines_unprompted"])
        if buyer.declines_unprompted:
            notices.success(
                request,
                _("Saved: sellers can now write to you only to answer you or about a problem with an order."),
            )
        else:
            notices.success(request, _("Saved: sellers may write to you about your orders."))
        return redirect("account")
    if request.method == "POST":
        zone = request.POST.get("time_zone", "")
        if zone in zoneinfo.available_timezones():
            user.time_zone = zone
            user.save(update_fields=["time_zone"])
            notices.success(request, _("Your time zone was saved."))
            return redirect("account")
        error = _("Unknown time zone. Choose one from the list.")
    now, names = timezone.now(), _common_names()
    others = sorted(zoneinfo.available_timezones() - set(COMMON_ZONES) - {"localtime", "Factory"})
    context = {
        "common": [(z, zone_label(z, now, names)) for z in COMMON_ZONES],
        "others": [(z, zone_label(z, now, names)) for z in others],
        "error": error,
        "two_factor_allowed": may_use(user),
    }
    return render(request, "web/account.html", context)
