"""Saving and updating single rows on the mail path without the ORM's query compiler.

``save_new(obj)`` inserts an unsaved model instance with one cached INSERT statement and marks it
saved, exactly as ``obj.save()`` would for a new row of a model without signals or custom
``save()``. The gateway does this a few times per message, and the ORM's compilation cost more
than SQLite did (ADR 4, ADR 5).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models.fields import AutoFieldMixin

M = TypeVar("M", bound=models.Model)


@cache
def _insert_plan(model: type[models.Model], vendor: str) -> tuple[str, list[models.Field[Any, Any]], bool]:
    """The INSERT statement, the fields it writes (in order) and whether the pk comes back."""
    meta = model._meta
    pk_is_generated = isinstance(meta.pk, AutoFieldMixin)
    fields = [f for f in meta.concrete_fields if not (pk_is_generated and f is meta.pk)]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if pk_is_generated:
        sql += f" RETURNING {quote(meta.pk.column)}"  # type: ignore[union-attr]
    return sql, fields, pk_is_generated


def db_value(value: Any) -> Any:
    """A Python value as the database stores it (Django's adaptation of datetimes)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def save_new(obj: M) -> M:
    """Insert ``obj`` (all concrete fields, defaults already applied by its constructor)."""
    sql, fields, returns_pk = _insert_plan(type(obj), connection.vendor)
    params = [db_value(getattr(obj, f.attname)) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returns_pk:
            obj.pk = cursor.fetchone()[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def execute(sql: str, params: list[Any]) -> int:
    """Run one hand-written statement; returns the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, [db_value(p) for p in params])
        return int(cursor.rowcount)


def fetchall(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [db_value(p) for p in params])
        return list(cursor.fetchall())
