"""How much of a buyer message's 24 hours is left (SPEC F6): for the list and the conversation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from marketmsg.policy.response import ON_TIME_SECONDS


@dataclass(frozen=True)
class TimeLeft:
    text: str
    level: str  # "overdue", "soon" (within MARKETMSG_AT_RISK_HOURS), "ok"


def _hours_minutes(delta: timedelta) -> tuple[int, int]:
    minutes = int(abs(delta.total_seconds()) // 60)
    return minutes // 60, minutes % 60


def time_left(received_at: datetime, now: datetime) -> TimeLeft:
    left = received_at + timedelta(seconds=ON_TIME_SECONDS) - now
    hours, minutes = _hours_minutes(left)
    if left.total_seconds() < 0:
        if hours >= 48:  # long past: days read better than a thousand hours
            return TimeLeft(_("%(d)d days overdue") % {"d": hours // 24}, "overdue")
        return TimeLeft(_("%(h)dh %(m)02dm overdue") % {"h": hours, "m": minutes}, "overdue")
    level = "soon" if left <= timedelta(hours=settings.AT_RISK_HOURS) else "ok"
    return TimeLeft(_("%(h)dh %(m)02dm left") % {"h": hours, "m": minutes}, level)
