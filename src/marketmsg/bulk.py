"""Fast bulk writing of rows: executemany on SQLite, COPY on PostgreSQL.

Rows are plain tuples in the order of the given field names; values are adapted the way Django
would store them. Used by the seeder, where building millions of model instances is too slow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection, models, transaction

CHUNK = 20_000


def next_id(model: type[models.Model]) -> int:
    return (model._default_manager.aggregate(m=models.Max("pk"))["m"] or 0) + 1


def _sqlite_datetime(value: datetime) -> str:
    """A date-time as Django's SQLite backend stores it (USE_TZ: naive UTC text), without the
    settings and connection lookups per value that cost an import of a million orders seconds."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return str(value)


def _datetime_adapter() -> Callable[[datetime], Any]:
    """How this connection's date-times are written; asked once a statement, not once a value."""
    if connection.vendor == "sqlite":
        return _sqlite_datetime
    return connection.ops.adapt_datetimefield_value


def _adapt(value: Any, as_datetime: Callable[[datetime], Any]) -> Any:
    if isinstance(value, datetime):
        return as_datetime(value)
    return value


def insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    on_chunk: Callable[[int], None] = lambda done: None,
) -> int:
    """Writes ``rows`` into ``model``'s table in chunks, one transaction each; returns the count."""
    meta = model._meta
    columns = [str(getattr(meta.get_field(name), "column")) for name in fields]  # noqa: B009
    table = connection.ops.quote_name(meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    done = 0
    chunk: list[tuple[Any, ...]] = []

    def flush() -> None:
        nonlocal done
        if not chunk:
            return
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            else:
                as_datetime = _datetime_adapter()
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({quoted}) VALUES ({marks})",
                    [tuple(_adapt(v, as_datetime) for v in row) for row in chunk],
                )
        done += len(chunk)
        chunk.clear()
        on_chunk(done)

    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            flush()
    flush()
    return done


def _columns(model: type[models.Model], fields: Sequence[str]) -> tuple[str, list[Any], str]:
    """The quoted table, the fields, and their quoted column list."""
    meta = model._meta
    found = [meta.get_field(name) for name in fields]
    quoted = ", ".join(connection.ops.quote_name(str(getattr(f, "column"))) for f in found)  # noqa: B009
    return connection.ops.quote_name(meta.db_table), found, quoted


def _statement(model: type[models.Model], fields: Sequence[str]) -> tuple[str, int, tuple[int, ...]]:
    """The INSERT's start, its width, and which of its values are date-times (to be adapted)."""
    table, found, quoted = _columns(model, fields)
    times = tuple(i for i, f in enumerate(found) if isinstance(f, models.DateTimeField))
    return f"INSERT INTO {table} ({quoted}) VALUES ", len(found), times


def _adapted(rows: Iterable[tuple[Any, ...]], times: tuple[int, ...]) -> list[Sequence[Any]]:
    """``rows`` with their date-times (at positions ``times``) as this database stores them."""
    if not times:
        return list(rows)
    as_datetime = _datetime_adapter()
    adapted: list[Sequence[Any]] = []
    for row in rows:
        values = list(row)
        for i in times:
            if values[i] is not None:
                values[i] = as_datetime(values[i])
        adapted.append(values)
    return adapted


# Rows a statement: SQLite takes up to 32,766 parameters, PostgreSQL 65,535.
_ROWS_A_STATEMENT = 500


def insert_returning(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> list[int]:
    """Inserts ``rows`` (in the caller's transaction) and returns their new IDs in the same order,
    without building model instances or compiling each statement anew.

    SQLite: multi-row INSERT … RETURNING, as Django's bulk_create does. PostgreSQL: the IDs are
    taken from the table's sequence first and the rows then COPied in with them, so which ID is
    whose never rests on the order RETURNING happens to answer in, and no statement carries
    thousands of placeholders for the driver to parse."""
    if not rows:
        return []
    if connection.vendor == "postgresql":
        return _copy_returning(model, fields, rows)
    start, width, times = _statement(model, fields)
    one = "(" + ", ".join(["%s"] * width) + ")"
    ids: list[int] = []
    with connection.cursor() as cursor:
        for at in range(0, len(rows), _ROWS_A_STATEMENT):
            chunk = rows[at : at + _ROWS_A_STATEMENT]
            params = [value for row in _adapted(chunk, times) for value in row]
            cursor.execute(start + ", ".join([one] * len(chunk)) + " RETURNING id", params)
            ids.extend(row[0] for row in cursor.fetchall())
    return ids


def _copy_returning(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> list[int]:
    table, _, columns = _columns(model, fields)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.cursor.copy(f"COPY {table} (id, {columns}) FROM STDIN") as copy:
            for new_id, row in zip(ids, rows, strict=True):
                copy.write_row((new_id, *row))
    return ids


def reset_sequences(models_: Sequence[type[models.Model]]) -> None:
    """Explicit IDs leave PostgreSQL's sequences behind; move them past the new rows."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models_:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )


class FastSQLiteWrites:
    """For the length of a seed: SQLite without fsync and with a large cache.

    A crash mid-seed can leave a half-seeded database, which is acceptable for demo and benchmark
    data (seed again); the service's own writes never run in this mode.
    """

    def __enter__(self) -> None:
        self.active = connection.vendor == "sqlite" and not connection.in_atomic_block
        if self.active:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA cache_size=-262144")

    def __exit__(self, *exc: object) -> None:
        if self.active:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=FULL")
