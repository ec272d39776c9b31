"""The exact median response time of a seller's window without sorting the window (ADR 9).

The tally keeps, per seller and UTC day, how many answers fell in each of about eighty response-
time buckets (each about 15 % wider than the one before). The median is found in two steps:
1. add up the buckets of the window (the whole days from the tally, the first part-day from its
   messages) and see which bucket holds the middle answer, and how many answers lie below it;
2. read the answers in that one bucket, in order, from the index ``message_seller_answered``
   (seller, response seconds, arrival), and take the one in the middle.
Step 2 reads one bucket of the seller's answers, not the whole window, so the cost does not grow
with the window.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from datetime import UTC, datetime

from django.db import connection

from marketmsg import rows

DAY_SECONDS = 86_400
BUCKETS_TABLE = "conversations_responsebucket"
# Lower bounds of the buckets: a minute each for the first five minutes, then 15 % wider each.
BOUNDS: tuple[int, ...] = tuple(sorted({0, 60, 120, 180, 240} | {round(300 * 1.15**n) for n in range(75)}))


def bucket_of(seconds: int) -> int:
    return bisect_right(BOUNDS, seconds) - 1


def bucket_sql(column: str) -> str:
    """``bucket_of`` as an SQL expression (for recounting the buckets in the database)."""
    cases = " ".join(f"WHEN {column} < {upper} THEN {n}" for n, upper in enumerate(BOUNDS[1:]))
    return f"CASE {cases} ELSE {len(BOUNDS) - 1} END"


def day_of(arrived: int) -> int:
    return arrived // DAY_SECONDS


def median(seller_id: int, since: datetime, counted_sql: str) -> int | None:
    """The lower median of the response seconds of the seller's answers to messages that
    arrived since ``since``; ``counted_sql`` selects the counted messages from ``since`` on
    (``FROM ... WHERE ... seller_id = %s AND created_at >= %s``)."""
    first_day = math.ceil(since.timestamp() / DAY_SECONDS)
    counts: Counter[int] = Counter()
    # SQL: the answer buckets summed in the database (ADR 9)
    for bucket, answers in rows.fetchall(
        f"SELECT bucket, SUM(answers) FROM {BUCKETS_TABLE} "
        "WHERE seller_id = %s AND day >= %s GROUP BY bucket",
        [seller_id, first_day],
    ):
        counts[int(bucket)] += int(answers)
    first_day_start = datetime.fromtimestamp(first_day * DAY_SECONDS, UTC)
    if first_day_start > since:  # the part-day where the window begins, from its messages
        # SQL: the part-day at the window's edge, from the counted messages (ADR 9)
        for (seconds,) in rows.fetchall(
            "SELECT response_seconds "
            + counted_sql
            + " AND created_at < %s AND response_seconds IS NOT NULL",
            [seller_id, rows.db_value(since), rows.db_value(first_day_start)],
        ):
            counts[bucket_of(int(seconds))] += 1
    total = sum(counts.values())
    if not total:
        return None
    wanted = (total - 1) // 2
    below = 0
    for bucket in sorted(counts):
        if below + counts[bucket] > wanted:
            return _in_bucket(seller_id, since, bucket, wanted - below)
        below += counts[bucket]
    raise AssertionError("the counts add up to the total")  # pragma: no cover


def _in_bucket(seller_id: int, since: datetime, bucket: int, offset: int) -> int:
    """The ``offset``-th smallest answer in ``bucket`` since ``since``. Every answered message is
    a counted one (only a waiting message is marked "no reply needed"; a message for customer
    service or an auto-reply never waits), so the index needs no other condition."""
    upper = BOUNDS[bucket + 1] if bucket + 1 < len(BOUNDS) else 2**31
    hint = " INDEXED BY message_seller_answered" if connection.vendor == "sqlite" else ""
    # SQL: SQLite is told the index (INDEXED BY), which the ORM cannot say (ADR 9)
    found = rows.fetchall(
        f"SELECT response_seconds FROM conversations_message{hint} WHERE seller_id = %s "
        "AND response_seconds >= %s AND response_seconds < %s AND created_at >= %s "
        "ORDER BY response_seconds LIMIT 1 OFFSET %s",
        [seller_id, BOUNDS[bucket], upper, rows.db_value(since), offset],
    )
    return int(found[0][0])
