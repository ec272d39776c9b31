"""Saving and updating single rows on the mail path without the ORM's query compiler.

``save_new(obj)`` inserts an unsaved model instance with one cached INSERT statement and marks it
saved, exactly as ``obj.save()`` would for a new row of a model without signals or custom
``save()``. The gateway does this a few times per message, and the ORM's compilation cost more
than SQLite did (ADR 4, ADR 5; measured again in ADR 24). Instances are built and linked only
through Django's public API: ``from_db``, the model's constructor and its relation descriptors.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.fields import AutoFieldMixin

M = TypeVar("M", bound=models.Model)
T = TypeVar("T")


@dataclass(frozen=True)
class _InsertPlan:
    sql: str
    fields: list[models.Field[Any, Any]]  # the columns written, in order
    returns_pk: bool
    values_of: Callable[[Any], Any]  # an instance's values for ``fields`` (an attrgetter)
    json: tuple[int, ...]  # positions of JSON fields: encoded here, not by the driver
    times: tuple[int, ...]  # positions of date-time fields: adapted as Django adapts them


@cache
def _insert_plan(model: type[models.Model], vendor: str, skip_conflicts: bool = False) -> _InsertPlan:
    """The INSERT statement for ``model`` and what its values need before the driver takes them."""
    meta = model._meta
    pk_is_generated = isinstance(meta.pk, AutoFieldMixin)
    fields = [f for f in meta.concrete_fields if not (pk_is_generated and f is meta.pk)]
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if skip_conflicts:  # SQLite 3.24+ and PostgreSQL: a unique-constraint clash inserts nothing
        sql += " ON CONFLICT DO NOTHING"
    if pk_is_generated:
        sql += f" RETURNING {quote(meta.pk.column)}"  # type: ignore[union-attr]
    getter = operator.attrgetter(*(f.attname for f in fields))
    return _InsertPlan(
        sql=sql,
        fields=fields,
        returns_pk=pk_is_generated,
        values_of=getter if len(fields) > 1 else lambda obj: (getter(obj),),
        json=tuple(i for i, f in enumerate(fields) if isinstance(f, models.JSONField)),
        times=tuple(i for i, f in enumerate(fields) if isinstance(f, models.DateTimeField)),
    )


def db_value(value: Any) -> Any:
    """A Python value as the database stores it (Django's adaptation of datetimes)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _params(db: BaseDatabaseWrapper, plan: _InsertPlan, values: Any) -> list[Any]:
    """The values as the driver takes them: JSON encoded, date-times adapted (the only adaptations
    the drivers do not do themselves for our models), found by position once per model."""
    params = list(values)
    for i in plan.json:
        params[i] = plan.fields[i].get_db_prep_save(params[i], db)
    adapt = db.ops.adapt_datetimefield_value
    for i in plan.times:
        if isinstance(params[i], datetime):
            params[i] = adapt(params[i])
    return params


def save_new(obj: M) -> M:
    """Insert ``obj`` (all concrete fields, defaults already applied by its constructor)."""
    db = connections[DEFAULT_DB_ALIAS]
    plan = _insert_plan(type(obj), db.vendor)
    params = _params(db, plan, plan.values_of(obj))
    if plan.returns_pk:
        obj.pk = _execute(db, plan.sql, params, _all_rows)[0][0]
    else:
        _execute(db, plan.sql, params, _row_count)
    return _saved(obj)


def save_new_unless_clash(obj: M) -> M | None:
    """Like save_new, but None (and nothing written) when a unique constraint already holds such
    a row: no savepoint is needed to survive the clash (the model's pk must be generated)."""
    db = connections[DEFAULT_DB_ALIAS]
    plan = _insert_plan(type(obj), db.vendor, skip_conflicts=True)
    assert plan.returns_pk, "save_new_unless_clash needs a generated primary key"
    found = _execute(db, plan.sql, _params(db, plan, plan.values_of(obj)), _all_rows)
    if not found:
        return None
    obj.pk = found[0][0]
    return _saved(obj)


def _saved(obj: M) -> M:
    """Mark ``obj`` as loaded from the database, as Model.save() would after an insert."""
    obj._state.adding = False
    obj._state.db = DEFAULT_DB_ALIAS
    return obj


def insert(model: type[models.Model], **values: Any) -> Any:
    """Insert one row from field values (attnames; the field's default where one is missing),
    without building a model instance; returns the new primary key."""
    db = connections[DEFAULT_DB_ALIAS]
    plan = _insert_plan(model, db.vendor)
    row = [values[f.attname] if f.attname in values else f.get_default() for f in plan.fields]
    if plan.returns_pk:
        return _execute(db, plan.sql, _params(db, plan, row), _all_rows)[0][0]
    _execute(db, plan.sql, _params(db, plan, row), _row_count)
    return values.get(model._meta.pk.attname)  # type: ignore[union-attr]


@cache
def _fields(model: type[models.Model]) -> tuple[models.Field[Any, Any], ...]:
    return tuple(f for f in model._meta.concrete_fields if not getattr(f, "generated", False))


def loaded(model: type[M], values: dict[str, Any]) -> M:
    """The instance of a row read by hand-written SQL: ``model.from_db`` of these column values
    (by attname; the fields not given are deferred)."""
    wanted = [f.attname for f in _fields(model) if f.attname in values]
    return model.from_db(DEFAULT_DB_ALIAS, wanted, [values[name] for name in wanted])


def new(model: type[M], values: dict[str, Any], related: Mapping[str, models.Model | None]) -> M:
    """``model(**values, **related)``: a row not yet saved (``related``: related objects by field
    name), for ``save_new``."""
    return model(**values, **related)


def attach(instance: models.Model, **related: models.Model) -> None:
    """``instance.<name> = <object>`` for each forward relation: what was loaded by hand-written
    SQL is linked as the ORM would link it, so that reading the relation costs no query."""
    for name, value in related.items():
        setattr(instance, name, value)


@cache
def _native(sql: str, vendor: str) -> str:
    """The statement in the driver's own parameter style (sqlite3 wants ?, psycopg %s).

    Hand-written statements here use %s only as placeholders, never a literal percent sign."""
    return sql.replace("%s", "?") if vendor == "sqlite" else sql


def _run(sql: str, params: list[Any], read: Callable[[Any], T]) -> T:
    return _run_on(connections[DEFAULT_DB_ALIAS], sql, params, read)


def _run_on(db: BaseDatabaseWrapper, sql: str, params: list[Any], read: Callable[[Any], T]) -> T:
    """Execute on the driver's cursor and ``read`` the result, skipping Django's per-query wrapping
    (but not its error types: a DatabaseError is still a django.db.DatabaseError, which the gateway
    answers 451). The connection is looked up once by the caller: each ``connection.x`` goes
    through a context-local lookup, which a few times per statement cost as much as SQLite's work."""
    adapt = db.ops.adapt_datetimefield_value
    return _execute(db, sql, [adapt(p) if isinstance(p, datetime) else p for p in params], read)


def _execute(db: BaseDatabaseWrapper, sql: str, params: list[Any], read: Callable[[Any], T]) -> T:
    """``_run_on`` for parameters already as the driver takes them."""
    if db.connection is None:  # ensure_connection's own test, without its check for an event loop
        db.ensure_connection()
    with db.wrap_database_errors:
        cursor = db.connection.cursor()
        try:
            cursor.execute(_native(sql, db.vendor), params)
            return read(cursor)
        finally:
            cursor.close()


def _row_count(cursor: Any) -> int:
    return int(cursor.rowcount)


def _all_rows(cursor: Any) -> list[tuple[Any, ...]]:
    return list(cursor.fetchall())


def execute(sql: str, params: list[Any]) -> int:
    """Run one hand-written statement; returns the number of rows it changed."""
    return _run(sql, params, _row_count)


def fetchall(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return _run(sql, params, _all_rows)
