"""``marketmsg import FILE``: the marketplace's records from a file, through the same upserts as
the operator API.

JSON Lines: one record per line with its kind, ``{"type": "order", "order_id": …}`` (``seller``,
``buyer``, ``product``, ``order``). CSV: orders, one row per item (see ``CSV_COLUMNS``); rows of
one order follow each other. Records are written in batches; each batch and the position after it
commit together (ImportRun), so an interrupted import started again goes on after the last batch
that was written. A bad record is refused with its line number and the import goes on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from marketmsg.integration.models import ImportRun
from marketmsg.integration.readahead import read_ahead
from marketmsg.integration.records import KINDS, Problem
from marketmsg.integration.upsert import REFUSED, Checked, Upserter

BATCH = 2000
CSV_COLUMNS = (
    "order_id",
    "seller",
    "buyer",
    "ordered_at",
    "status",
    "fulfillment",
    "product_id",
    "title",
    "quantity",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
    "returned_at",
    "tracking_carrier",
    "tracking_number",
)
_REQUIRED_CSV = {"order_id", "seller", "buyer", "ordered_at", "product_id", "title"}


@dataclass
class Refusal:
    line: int
    kind: str
    key: str
    problems: list[Problem]

    def __str__(self) -> str:
        what = f"{self.kind} {self.key}".strip() if self.key else self.kind
        reasons = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in self.problems)
        return f"line {self.line}: {what}: {reasons}"


@dataclass
class Summary:
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, result) → records
    refusals: int = 0
    lines: int = 0
    skipped_lines: int = 0  # done by an earlier, interrupted run
    already_done: bool = False

    def of(self, kind: str) -> dict[str, int]:
        return {r: self.counts[(kind, r)] for r in ("created", "updated", "unchanged", "refused")}

    def records(self, kind: str | None = None) -> int:
        return sum(n for (k, _), n in self.counts.items() if kind is None or k == kind)


# One record read from the file: (line where it starts, line after it, kind, raw record) or a refusal.
Item = tuple[int, int, str, Any] | Refusal


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_lines(data: io.TextIOBase) -> Iterator[Item]:
    for number, line in enumerate(data, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            yield Refusal(
                number, "record", "", [Problem("", f"not JSON ({error.msg} at column {error.colno}).")]
            )
            continue
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in KINDS:
            yield Refusal(
                number, "record", "", [Problem("type", f"must be one of {', '.join(KINDS)} (got {kind!r}).")]
            )
            continue
        yield number, number + 1, kind, raw


def _csv_orders(data: io.TextIOBase) -> Iterator[Item]:
    reader = csv.DictReader(data)
    missing = _REQUIRED_CSV - set(reader.fieldnames or ())
    if missing:
        yield Refusal(1, "header", "", [Problem("", f"the CSV header lacks {', '.join(sorted(missing))}.")])
        return
    current: dict[str, Any] | None = None
    start = 2
    for row in reader:
        number = reader.line_num
        item = {"product_id": row.get("product_id", ""), "title": row.get("title", "")}
        quantity = (row.get("quantity") or "1").strip()
        item["quantity"] = int(quantity) if quantity.isdigit() else quantity
        if current is not None and current["order_id"] == row.get("order_id"):
            current["items"].append(item)
            continue
        if current is not None:
            yield start, number, "order", current
        start = number
        current = {
            name: value
            for name, value in row.items()
            if name in CSV_COLUMNS
            and name not in ("product_id", "title", "quantity")
            and value not in (None, "")
        }
        carrier, tracking = current.pop("tracking_carrier", ""), current.pop("tracking_number", "")
        if carrier or tracking:
            current["tracking"] = {"carrier": carrier, "number": tracking}
        current.setdefault("order_id", "")
        current["items"] = [item]
    if current is not None:
        yield start, reader.line_num + 1, "order", current


def read(path: Path, data: io.TextIOBase) -> Iterator[Item]:
    return _csv_orders(data) if path.suffix.lower() == ".csv" else _json_lines(data)


Progress = Callable[[int, Summary], None]  # (bytes read, summary so far)


def _sqlite_pragma(cursor: Any, name: str, value: str) -> list[str]:
    """Sets a pragma; returns the statement that puts it back."""
    cursor.execute(f"PRAGMA {name}")
    (before,) = cursor.fetchone()
    cursor.execute(f"PRAGMA {name}={value}")
    return [f"PRAGMA {name}={int(before)}"]


@contextmanager
def _bulk_session() -> Iterator[None]:
    """The import's connection, set for bulk writing while it runs, and put back after.

    Commits of batches need not each wait for the disk: a batch and the file position after it
    commit together (ImportRun), so a machine that loses the last few batches in a power cut
    loses their position too, and the import started again writes them again. The run is marked
    finished only after the settings are back, by a commit that waits for the disk and with it for
    every batch before it. On SQLite a page cache of IMPORT_SQLITE_CACHE_MB besides: a million
    orders bring a million or more products with IDs in no order, and with SQLite's default 2 MB
    cache nearly every insert into those unique indexes reads its page back from the file; and
    the write-ahead log is copied back into the database every 50,000 pages (about 200 MB), not
    every 1,000, which cost a checkpoint (and its sync) at nearly every batch."""
    undo: list[str] = []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            undo += _sqlite_pragma(cursor, "cache_size", f"-{int(settings.IMPORT_SQLITE_CACHE_MB) * 1024}")
            if not connection.in_atomic_block:  # SQLite changes durability outside transactions only
                undo += _sqlite_pragma(cursor, "synchronous", "NORMAL")
                undo += _sqlite_pragma(cursor, "wal_autocheckpoint", "50000")
        elif connection.vendor == "postgresql":
            cursor.execute("SET synchronous_commit = off")
            undo.append("RESET synchronous_commit")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for statement in undo:
                cursor.execute(statement)


@dataclass
class _Chunk:
    """What the reader hands the writer: one batch of records of one kind, already checked, and
    the unreadable lines met before it."""

    items: list[tuple[int, int, str, Any]]
    checked: Checked | None
    refusals: list[Refusal]
    position: int  # bytes of the file read so far


def _chunks(path: Path, lines_done: int, batch_size: int) -> Iterator[_Chunk]:
    pending: list[tuple[int, int, str, Any]] = []
    refusals: list[Refusal] = []

    def cut(position: int) -> _Chunk:
        checked = Checked(pending[0][2], [raw for _, _, _, raw in pending]) if pending else None
        return _Chunk(list(pending), checked, list(refusals), position)

    with path.open("rb") as binary:
        data = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        for item in read(path, data):
            if isinstance(item, Refusal):
                if item.line > lines_done:
                    refusals.append(item)
                continue
            start, _, kind, _ = item
            if start <= lines_done:
                continue  # written by an earlier run
            if pending and (pending[0][2] != kind or len(pending) >= batch_size):
                yield cut(binary.tell())
                pending.clear()
                refusals.clear()
            pending.append(item)
        yield cut(binary.tell())


def run(
    path: Path,
    on_refusal: Callable[[Refusal], None],
    progress: Progress = lambda done, summary: None,
    again: bool = False,
    batch_size: int = BATCH,
) -> Summary:
    """Import ``path``; returns what happened. A file imported whole before is not read again
    unless ``again`` (importing twice changes nothing anyway: every upsert is idempotent)."""
    summary = Summary()
    marker = fingerprint(path)
    import_run, _ = ImportRun.objects.get_or_create(fingerprint=marker, defaults={"source": str(path)[:500]})
    if import_run.finished_at is not None and not again:
        summary.already_done, summary.lines = True, import_run.lines_done
        return summary
    if again:
        ImportRun.objects.filter(pk=import_run.pk).update(lines_done=0, finished_at=None)
        import_run.lines_done = 0
    summary.skipped_lines = import_run.lines_done
    upserter = Upserter()

    def write(chunk: _Chunk) -> None:
        kind = chunk.items[0][2]
        with transaction.atomic():
            outcomes = upserter.apply(kind, [raw for _, _, _, raw in chunk.items], chunk.checked)
            results = Counter(o.result for o in outcomes)
            ImportRun.objects.filter(pk=import_run.pk).update(
                lines_done=chunk.items[-1][1] - 1,
                **{name: F(name) + results[name] for name in ("created", "updated", "unchanged", "refused")},
            )
        for (line, _, _, _), outcome in zip(chunk.items, outcomes, strict=True):
            summary.counts[(kind, outcome.result)] += 1
            if outcome.result == REFUSED:
                _refused(Refusal(line, kind, outcome.key, outcome.problems))
        summary.lines = chunk.items[-1][0]

    def _refused(refusal: Refusal) -> None:
        summary.refusals += 1
        on_refusal(refusal)

    # On PostgreSQL the file is read and its records checked on a second thread, one batch ahead
    # of the writer: checking is Python, writing waits on the server in a few long calls, and the
    # two overlap (1M orders: 2,650 → 4,669 orders/s). Not on SQLite: its driver lets go of the
    # interpreter lock for every row it steps, and each time takes it back from the reader only
    # after a switch interval, which made the import slower (4,930 → 4,235 orders/s).
    chunks = _chunks(path, import_run.lines_done, batch_size)
    with _bulk_session():
        for chunk in read_ahead(chunks) if connection.vendor == "postgresql" else chunks:
            for refusal in chunk.refusals:
                summary.counts[(refusal.kind, REFUSED)] += 1
                _refused(refusal)
            if chunk.items:
                write(chunk)
            progress(chunk.position, summary)
    ImportRun.objects.filter(pk=import_run.pk).update(finished_at=timezone.now())
    return summary
