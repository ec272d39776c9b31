"""The response-time tally: per seller and 15-minute slot, what the buyer messages that arrived in
that slot came to (SPEC F6, ADR 9).

A slot counts the messages the figures count (from a buyer, not an auto-reply, not routed to
customer service, not marked "no reply needed") by the moment each *arrived*: how many arrived,
how many of them were answered within 24 hours, answered late, and the sum of their response
seconds. ``post_message`` and the "no reply needed" marks keep it, in the same transaction as the
message rows they change, so that the performance page adds up at most a few thousand slot rows
instead of reading every message.

Fifteen minutes, because every time zone in use today is a whole number of quarter hours from
UTC: a seller's calendar day is always a whole number of slots.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection

from marketmsg import rows
from marketmsg.metrics import median
from marketmsg.policy.response import ON_TIME_SECONDS

SLOT_SECONDS = 15 * 60
TABLE = "conversations_responsetally"

# The buyer messages the response-time figures count (SPEC F6), as SQL: not auto-replies, not
# marked "no reply needed", not customer service's, and answered or waiting (a message answered
# before response times were recorded has neither). The tally, its recount and the live parts of
# the figures all use this one condition.
COUNTED = (
    "author = 'buyer' AND NOT is_auto AND marked_no_reply_at IS NULL AND state <> 'cs_queue' "
    "AND (response_seconds IS NOT NULL OR needs_reply)"
)

_EPOCH = {  # whole Unix seconds of a timestamp column, as each database writes it
    "sqlite": "unixepoch({column})",
    "postgresql": "CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)",
}

_ADD = (
    f"INSERT INTO {TABLE} (seller_id, slot, received, on_time, answered_late, seconds_sum) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (seller_id, slot) DO UPDATE SET "
    f"received = {TABLE}.received + excluded.received, "
    f"on_time = {TABLE}.on_time + excluded.on_time, "
    f"answered_late = {TABLE}.answered_late + excluded.answered_late, "
    f"seconds_sum = {TABLE}.seconds_sum + excluded.seconds_sum"
)

_ADD_ANSWERS = (
    f"INSERT INTO {median.BUCKETS_TABLE} (seller_id, day, bucket, answers) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (seller_id, day, bucket) DO UPDATE SET "
    f"answers = {median.BUCKETS_TABLE}.answers + excluded.answers"
)


def epoch_sql(column: str) -> str:
    return _EPOCH[connection.vendor].format(column=column)


def slot_of(moment: datetime | int) -> int:
    """The slot a moment (aware datetime, or Unix seconds) falls in."""
    seconds = moment if isinstance(moment, int) else int(moment.timestamp() // 1)
    return seconds // SLOT_SECONDS


def slot_start(slot: int) -> datetime:
    return datetime.fromtimestamp(slot * SLOT_SECONDS, UTC)


def first_whole_slot(since: datetime) -> int:
    """The first slot that begins at or after ``since``."""
    return math.ceil(since.timestamp() / SLOT_SECONDS)


def received(seller_id: int, arrived: datetime | int, count: int = 1) -> None:
    """``count`` counted messages arrived (negative: no longer counted, e.g. marked)."""
    # SQL: an additive upsert (ON CONFLICT … + excluded) in one statement: the ORM cannot add on conflict
    rows.execute(_ADD, [seller_id, slot_of(arrived), count, 0, 0, 0])


def answered(seller_id: int, answers: Iterable[tuple[int, int]]) -> None:
    """Buyer messages (arrival in Unix seconds, response seconds) got their first answer."""
    by_slot: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    by_bucket: Counter[tuple[int, int]] = Counter()
    for arrived, seconds in answers:
        tally = by_slot[slot_of(arrived)]
        tally[0 if seconds <= ON_TIME_SECONDS else 1] += 1
        tally[2] += seconds
        by_bucket[median.day_of(arrived), median.bucket_of(seconds)] += 1
    for slot, (on_time, late, seconds_sum) in by_slot.items():
        # SQL: the same additive upsert
        rows.execute(_ADD, [seller_id, slot, 0, on_time, late, seconds_sum])
    for (day, bucket), count in by_bucket.items():
        # SQL: the answer buckets' additive upsert
        rows.execute(_ADD_ANSWERS, [seller_id, day, bucket, count])


def rebuild(seller_id: int | None = None) -> int:
    """Recount the tally and the answer buckets from the stored messages (after bulk seeding, or
    to check them); returns the number of slot rows written."""
    only = "" if seller_id is None else " AND seller_id = %s"
    params = [] if seller_id is None else [seller_id]
    arrived = epoch_sql("created_at")
    counted = f"FROM conversations_message WHERE {COUNTED}{only}"
    # SQL: the recount rebuilds the tables from the messages by INSERT … SELECT, all in the database
    rows.execute(f"DELETE FROM {TABLE} WHERE 1 = 1{only}", params)
    rows.execute(f"DELETE FROM {median.BUCKETS_TABLE} WHERE 1 = 1{only}", params)
    rows.execute(
        f"INSERT INTO {median.BUCKETS_TABLE} (seller_id, day, bucket, answers) "
        f"SELECT seller_id, {arrived} / {median.DAY_SECONDS}, "
        f"{median.bucket_sql('response_seconds')}, COUNT(*) "
        f"{counted} AND response_seconds IS NOT NULL GROUP BY 1, 2, 3",
        params,
    )
    return rows.execute(
        f"INSERT INTO {TABLE} (seller_id, slot, received, on_time, answered_late, seconds_sum) "
        f"SELECT seller_id, {arrived} / {SLOT_SECONDS}, COUNT(*), "
        f"SUM(CASE WHEN response_seconds <= {ON_TIME_SECONDS} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN response_seconds > {ON_TIME_SECONDS} THEN 1 ELSE 0 END), "
        f"COALESCE(SUM(response_seconds), 0) {counted} GROUP BY 1, 2",
        params,
    )
