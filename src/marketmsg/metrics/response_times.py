"""Response-time figures of a seller (SPEC F6), computed by queries, never by loading messages.

Counted: the seller's buyer messages that need a reply — not auto-replies, not marked "no reply
needed", not answered by marketplace customer service. A message's response time is fixed when
the seller first answers it (``post_message`` writes ``response_seconds``). Within 24 hours is on
time; weekends and holidays count. A message still waiting past 24 hours counts as late.

Where each number comes from (ADR 9):
- arrivals, answers on time and late, the sum of response seconds: the tally of 15-minute slots
  (metrics.tally), plus the messages of the part of a slot where a window begins;
- messages still waiting: the small partial index of waiting messages;
- the median: the answer buckets of the tally, then the answers of one bucket
  (metrics.median).
"""

from __future__ import annotations

import itertools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from marketmsg import rows
from marketmsg.metrics import median, tally

ON_TIME_SECONDS = tally.ON_TIME_SECONDS
PERIODS = (7, 30, 90)
CHART_DAYS = 90
DAY_SECONDS = 86_400

# The messages the figures count, as the partial index states them. SQLite without statistics
# preferred the list index (seller, author, created_at), which left it reading 50,000 table rows
# for a busy seller (seconds, cold); it is told which index to use. PostgreSQL picks it by cost.
_WHERE = f"WHERE {tally.COUNTED} AND seller_id = %s AND created_at >= %s"


def _counted() -> str:
    hint = " INDEXED BY message_seller_responses" if connection.vendor == "sqlite" else ""
    return f"FROM conversations_message{hint} {_WHERE}"


def _waiting() -> str:
    """A seller's messages still waiting for an answer (needs_reply implies every condition of
    the counted messages), on the partial index that holds only those."""
    hint = " INDEXED BY message_seller_awaiting" if connection.vendor == "sqlite" else ""
    return (
        f"FROM conversations_message{hint} "
        "WHERE seller_id = %s AND author = 'buyer' AND needs_reply AND created_at >= %s"
    )


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
    received, on_time, late, seconds_sum = _window(seller_id, since)
    waiting = _waiting_since(seller_id, max(since, now - timedelta(seconds=ON_TIME_SECONDS)))
    answered = on_time + late
    return Figures(
        days=days,
        on_time=on_time,
        answered_late=late,
        overdue=received - answered - waiting,
        waiting=waiting,
        average_seconds=seconds_sum / answered if answered else None,
        median_seconds=median.median(seller_id, since, _counted()) if answered else None,
    )


def _window(seller_id: int, since: datetime) -> tuple[int, int, int, int]:
    """(received, answered on time, answered late, sum of response seconds) of the messages that
    arrived since ``since``: whole slots from the tally, the part of the slot where the window
    begins from its messages. What was received and is neither answered is still waiting."""
    first = tally.first_whole_slot(since)
    # SQL: the tally's slots summed in the database; metrics reads the tables by name (ADR 25)
    found = rows.fetchall(
        "SELECT SUM(received), SUM(on_time), SUM(answered_late), SUM(seconds_sum) "
        f"FROM {tally.TABLE} WHERE seller_id = %s AND slot >= %s",
        [seller_id, first],
    )[0]
    edge_end = tally.slot_start(first)
    if edge_end > since:
        # SQL: the part-slot at the window's edge, from the partial index of counted messages (ADR 9)
        edge = rows.fetchall(
            "SELECT COUNT(*), "
            f"SUM(CASE WHEN response_seconds <= {ON_TIME_SECONDS} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN response_seconds > {ON_TIME_SECONDS} THEN 1 ELSE 0 END), "
            "SUM(response_seconds) " + _counted() + " AND created_at < %s",
            [seller_id, rows.db_value(since), rows.db_value(edge_end)],
        )[0]
        found = tuple((a or 0) + (b or 0) for a, b in zip(found, edge, strict=True))
    received, on_time, late, seconds_sum = (int(v or 0) for v in found)
    return received, on_time, late, seconds_sum


def _waiting_since(seller_id: int, since: datetime, until: datetime | None = None) -> int:
    """Messages that arrived since ``since`` (and before ``until``) and still wait: a range of
    the small index of waiting messages, at most a day long wherever it is used."""
    before = "" if until is None else " AND created_at < %s"
    # SQL: a range of the small index of waiting messages (ADR 9)
    found = rows.fetchall(
        "SELECT COUNT(*) " + _waiting() + before,
        [seller_id, rows.db_value(since), *([] if until is None else [rows.db_value(until)])],
    )
    return int(found[0][0])


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
    midnights = [
        datetime.combine(first + timedelta(days=n), datetime.min.time(), tzinfo=tz) for n in range(days + 1)
    ]
    deadline = now - timedelta(seconds=ON_TIME_SECONDS)
    counts = [[0, 0, 0] for _ in range(days)]
    for offset, start, end, length in _runs_of_days(midnights):
        # A midnight is a whole number of slots in every zone in use, so each slot lies in one day.
        slots = length // tally.SLOT_SECONDS
        # SQL: one grouped query per run of equal days over the tally's slots (ADR 9)
        for n, received, on_time, late in rows.fetchall(
            f"SELECT (slot - %s) / {slots}, SUM(received), SUM(on_time), SUM(answered_late) "
            f"FROM {tally.TABLE} WHERE seller_id = %s AND slot >= %s AND slot < %s GROUP BY 1",
            [start // tally.SLOT_SECONDS, seller_id, start // tally.SLOT_SECONDS, end // tally.SLOT_SECONDS],
        ):
            counts[offset + n] = [int(received or 0), int(on_time or 0), int(late or 0)]
    for n, day in enumerate(counts):
        # Late: answered late, or still waiting past 24 hours. A day that ended 24 hours ago has
        # only such messages waiting; of the day the deadline falls in, those before it.
        received, on_time, late = day
        if midnights[n + 1] <= deadline:
            day[2] = received - on_time
        elif midnights[n] < deadline and received > on_time + late:
            day[2] += _waiting_since(seller_id, midnights[n], deadline)
    return [Day(first + timedelta(days=n), *c) for n, c in enumerate(counts)]


def _runs_of_days(midnights: list[datetime]) -> list[tuple[int, int, int, int]]:
    """The days between the midnights as runs of days of equal length: (index of the first day,
    start and end in Unix seconds, length of a day in seconds). One run of 24-hour days unless the
    clocks change, when the 23- or 25-hour day is a run of its own; each run is one grouped query."""
    runs: list[tuple[int, int, int, int]] = []
    starts = [int(m.timestamp()) for m in midnights]
    for n, (start, end) in enumerate(itertools.pairwise(starts)):
        if runs and runs[-1][2] == start and runs[-1][3] == end - start == DAY_SECONDS:
            runs[-1] = (runs[-1][0], runs[-1][1], end, DAY_SECONDS)
        else:
            runs.append((n, start, end, end - start))
    return runs


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def at_risk(seller_id: int, now: datetime | None = None, hours: float | None = None) -> list[int]:
    """IDs of the messages still waiting whose 24 hours end within ``hours``, most urgent first."""
    now = now or timezone.now()
    hours = settings.AT_RISK_HOURS if hours is None else hours
    deadline = now - timedelta(seconds=ON_TIME_SECONDS)
    # SQL: the waiting index again, oldest first (ADR 9)
    found = rows.fetchall(
        "SELECT id " + _waiting() + " AND created_at <= %s ORDER BY created_at LIMIT 100",
        [seller_id, rows.db_value(deadline), rows.db_value(deadline + timedelta(hours=hours))],
    )
    return [row[0] for row in found]


def ranking(days: int = 30, now: datetime | None = None) -> list[tuple[int, int, int]]:
    """(seller ID, messages due, answered on time) for every seller with messages due, for staff.

    Whole slots only: the window begins at the first slot boundary after ``now - days``, up to
    15 minutes later than on the seller's own page (one query over all sellers' tallies)."""
    now = now or timezone.now()
    first = tally.first_whole_slot(now - timedelta(days=days))
    # Due: everything received but the messages still waiting within their 24 hours.
    # SQL: one query over all sellers (staff ranking), grouped in the database
    within = dict(
        rows.fetchall(
            "SELECT seller_id, COUNT(*) FROM conversations_message WHERE needs_reply AND created_at >= %s "
            "GROUP BY seller_id",
            [rows.db_value(max(tally.slot_start(first), now - timedelta(seconds=ON_TIME_SECONDS)))],
        )
    )
    # SQL: every seller's tally summed in one grouped query
    found = rows.fetchall(
        f"SELECT seller_id, SUM(received), SUM(on_time) FROM {tally.TABLE} "
        "WHERE slot >= %s GROUP BY seller_id",
        [first],
    )
    due = [
        (int(s), int(received or 0) - int(within.get(s, 0)), int(on_time or 0))
        for s, received, on_time in found
    ]
    return [row for row in due if row[1] > 0]
