"""Response-time figures of a seller (SPEC F6), computed by queries over the stored messages.

Counted: the seller's buyer messages that need a reply — not auto-replies, not marked "no reply
needed", not answered by marketplace customer service. A message's response time is fixed when
the seller first answers it (``post_message`` writes ``response_seconds``). Within 24 hours is on
time; weekends and holidays count. A message still waiting past 24 hours counts as late.

Every query reads the partial index ``message_seller_responses`` alone (hand-written SQL whose
conditions match the index's, so that SQLite can use it), never message bodies.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from marketmsg import rows

ON_TIME_SECONDS = 24 * 3600
PERIODS = (7, 30, 90)
CHART_DAYS = 90

# The messages the figures count, as the partial index states them. SQLite without statistics
# preferred the list index (seller, author, created_at), which left it reading 50,000 table rows
# for a busy seller (seconds, cold); it is told which index to use. PostgreSQL picks it by cost.
_WHERE = (
    "WHERE author = 'buyer' AND NOT is_auto AND seller_id = %s "
    "AND created_at >= %s AND marked_no_reply_at IS NULL AND state <> 'cs_queue'"
)


def _counted() -> str:
    hint = " INDEXED BY message_seller_responses" if connection.vendor == "sqlite" else ""
    return f"FROM conversations_message{hint} {_WHERE}"


@dataclass(frozen=True)
class Figures:
    days: int
    on_time: int  # answered within 24 hours
    answered_late: int
    overdue: int  # still waiting, past 24 hours
    waiting: int  # still waiting, within 24 hours
    average_seconds: float | None
    median_seconds: int | None

    @property
    def due(self) -> int:
        """Messages whose 24 hours are over or that were answered: the base of the shares."""
        return self.on_time + self.answered_late + self.overdue

    @property
    def late(self) -> int:
        return self.answered_late + self.overdue

    @property
    def unanswered(self) -> int:
        return self.overdue + self.waiting

    @property
    def share_on_time(self) -> float | None:
        return self.on_time / self.due if self.due else None

    @property
    def share_late(self) -> float | None:
        return self.late / self.due if self.due else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "on_time": self.on_time,
            "late": self.late,
            "answered_late": self.answered_late,
            "overdue": self.overdue,
            "unanswered": self.unanswered,
            "share_on_time": self.share_on_time,
            "share_late": self.share_late,
            "average_response_seconds": self.average_seconds,
            "median_response_seconds": self.median_seconds,
        }


def figures(seller_id: int, days: int, now: datetime | None = None) -> Figures:
    now = now or timezone.now()
    since = now - timedelta(days=days)
    deadline = now - timedelta(seconds=ON_TIME_SECONDS)
    found = rows.fetchall(
        "SELECT "
        f"SUM(CASE WHEN response_seconds <= {ON_TIME_SECONDS} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN response_seconds > {ON_TIME_SECONDS} THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN response_seconds IS NULL AND needs_reply AND created_at < %s THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN response_seconds IS NULL AND needs_reply AND created_at >= %s THEN 1 ELSE 0 END), "
        "AVG(response_seconds), "
        "COUNT(response_seconds) " + _counted(),
        [rows.db_value(deadline), rows.db_value(deadline), seller_id, rows.db_value(since)],
    )[0]
    on_time, late, overdue, waiting = (int(v or 0) for v in found[:4])
    average, answered = found[4], int(found[5] or 0)
    median = None
    if answered:
        median = rows.fetchall(
            "SELECT response_seconds " + _counted() + " AND response_seconds IS NOT NULL "
            "ORDER BY response_seconds LIMIT 1 OFFSET %s",
            [seller_id, rows.db_value(since), (answered - 1) // 2],
        )[0][0]
    return Figures(
        days=days,
        on_time=on_time,
        answered_late=late,
        overdue=overdue,
        waiting=waiting,
        average_seconds=float(average) if average is not None else None,
        median_seconds=int(median) if median is not None else None,
    )


@dataclass(frozen=True)
class Day:
    day: date
    received: int
    on_time: int
    late: int

    @property
    def share_on_time(self) -> float | None:
        due = self.on_time + self.late
        return self.on_time / due if due else None


def daily(seller_id: int, zone: str, now: datetime | None = None, days: int = CHART_DAYS) -> list[Day]:
    """Each of the last ``days`` days in the seller's time zone: messages received, answered on
    time, and late (answered late, or still waiting past 24 hours). Days without messages are 0."""
    now = now or timezone.now()
    tz = zoneinfo.ZoneInfo(zone)
    today = timezone.localtime(now, tz).date()
    first = today - timedelta(days=days - 1)
    deadline = now - timedelta(seconds=ON_TIME_SECONDS)
    # SQLite: one range query per day on the index, in order; grouping 50,000 rows by a computed
    # day made it sort them, which cost twice as much (docs/benchmarks.md).
    starts = [
        datetime.combine(first + timedelta(days=n), datetime.min.time(), tzinfo=tz) for n in range(days + 1)
    ]
    sql = (
        "SELECT COUNT(*), "
        f"SUM(CASE WHEN response_seconds <= {ON_TIME_SECONDS} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN response_seconds > {ON_TIME_SECONDS} "
        "OR (response_seconds IS NULL AND needs_reply AND created_at < %s) THEN 1 ELSE 0 END) "
        + _counted()
        + " AND created_at < %s"
    )
    by_day: dict[date, Any] = {}
    if connection.vendor == "postgresql":  # hashes the days itself; 90 round trips cost more
        grouped = (
            "SELECT CAST((created_at AT TIME ZONE %s) AS date), "
            + sql.removeprefix("SELECT ").removesuffix(" AND created_at < %s")
            + " GROUP BY 1"
        )
        for day, *counts in rows.fetchall(
            grouped, [zone, rows.db_value(deadline), seller_id, rows.db_value(starts[0])]
        ):
            by_day[day] = counts
    else:
        with connection.cursor() as cursor:
            for n in range(days):
                cursor.execute(
                    sql,
                    [
                        rows.db_value(deadline),
                        seller_id,
                        rows.db_value(starts[n]),
                        rows.db_value(starts[n + 1]),
                    ],
                )
                by_day[first + timedelta(days=n)] = cursor.fetchone()
    out = []
    for offset_days in range(days):
        day = first + timedelta(days=offset_days)
        received, on_time, late = by_day.get(day, (0, 0, 0))
        out.append(Day(day, int(received), int(on_time or 0), int(late or 0)))
    return out


def at_risk(seller_id: int, now: datetime | None = None, hours: float | None = None) -> list[int]:
    """IDs of the messages still waiting whose 24 hours end within ``hours``, most urgent first."""
    now = now or timezone.now()
    hours = settings.AT_RISK_HOURS if hours is None else hours
    deadline = now - timedelta(seconds=ON_TIME_SECONDS)
    found = rows.fetchall(
        "SELECT id " + _counted() + " AND needs_reply AND response_seconds IS NULL AND created_at <= %s "
        "ORDER BY created_at LIMIT 100",
        [seller_id, rows.db_value(deadline), rows.db_value(deadline + timedelta(hours=hours))],
    )
    return [row[0] for row in found]


def ranking(days: int = 30, now: datetime | None = None) -> list[tuple[int, int, int]]:
    """(seller ID, messages due, answered on time) for every seller with messages due, for staff."""
    now = now or timezone.now()
    deadline = now - timedelta(seconds=ON_TIME_SECONDS)
    found = rows.fetchall(
        "SELECT seller_id, "
        f"SUM(CASE WHEN response_seconds <= {ON_TIME_SECONDS} THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN response_seconds IS NOT NULL OR (needs_reply AND created_at < %s) THEN 1 ELSE 0 END) "
        "FROM conversations_message WHERE author = 'buyer' AND NOT is_auto AND created_at >= %s "
        "AND marked_no_reply_at IS NULL AND state <> 'cs_queue' GROUP BY seller_id",
        [rows.db_value(deadline), rows.db_value(now - timedelta(days=days))],
    )
    return [(int(seller), int(due or 0), int(on_time or 0)) for seller, on_time, due in found if due]
