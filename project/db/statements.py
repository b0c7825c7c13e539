"""Statements of the message path, compiled once per database instead of once per call.

Every message passes through the same few statements: the bridge's insert of its
inbox row, the worker's lock of the key's pending rows and update to done, the
outbox row's insert, the relay's read of unsent rows and update to sent. The ORM
builds and compiles each again on every call, for more CPU than the database
takes to run it (0.1 to 0.4 ms each). Here the SQL is the ORM's own, or written from
the model's metadata, compiled once; values are still prepared by each field
(``get_db_prep_save``) and results converted as the ORM converts them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

from django.db import models, transaction


@functools.cache
def _insert_statement(
    model: type[models.Model], names: tuple[str, ...], vendor: str, rows: int, quote
) -> tuple[str, list]:
    fields = [model._meta.get_field(name) for name in names]
    row = "({})".format(", ".join(["%s"] * len(fields)))
    sql = "INSERT INTO {} ({}) VALUES {} RETURNING {}".format(
        quote(model._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join([row] * rows),
        quote(model._meta.pk.column),
    )
    return sql, fields


def insert(names: tuple[str, ...], objs: Sequence[models.Model]) -> None:
    """Insert ``objs`` (one model) in one statement, writing the fields ``names``; set their pks.

    Fields left out take their database default. Rows come back in the order of
    the VALUES lists on SQLite and PostgreSQL (which ``bulk_create`` relies on too).
    """
    if not objs:
        return
    connection = transaction.get_connection()
    model = type(objs[0])
    sql, fields = _insert_statement(
        model, names, connection.vendor, len(objs), connection.ops.quote_name
    )
    params = [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for obj in objs
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def select(
    build: Callable[[], models.QuerySet], params: Sequence, *, limit: int | None = None
) -> list[models.Model]:
    """Run ``build()``'s query with ``params`` in place of the values it was built with.

    ``build`` is called once per database (and ``limit``) to compile the query, and
    the column converters are found then too; its parameters must be given here in
    the order the compiled SQL has them (checked). Rows become instances as the ORM
    makes them.

    The ORM writes a slice's LIMIT into the SQL text, not as a parameter, so
    ``build`` must not slice: a limit read from a setting inside it would be frozen
    at its first value. ``limit`` is given here instead, on every call, and each
    value gets its own compiled statement.
    """
    connection = transaction.get_connection()
    compiled = _compiled(build, connection.alias, connection.vendor, limit)
    if len(params) != compiled.parameters:
        raise ValueError(f"{build.__name__} takes {compiled.parameters} parameters")
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, list(params))
        rows = cursor.fetchall()
    make = compiled.model.from_db
    converters = compiled.converters
    result = []
    for row in rows:
        values = list(row)
        for position, functions, expression in converters:
            for function in functions:
                values[position] = function(values[position], expression, connection)
        result.append(make(connection.alias, compiled.names, values))
    return result


class _Compiled(NamedTuple):
    sql: str
    parameters: int
    model: type[models.Model]
    names: list[str]
    converters: list[tuple[int, list, object]]


@functools.cache
def _compiled(
    build: Callable[[], models.QuerySet], alias: str, vendor: str, limit: int | None
) -> _Compiled:
    queryset = build().using(alias)
    if queryset.query.is_sliced:
        raise ValueError(f"{build.__name__}: give the limit to select(), not a slice")
    if limit is not None:
        queryset = queryset[:limit]
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    columns = [expression for expression, _, _ in compiler.select]
    if len(columns) != len(compiler.select) or any(
        getattr(column, "target", None) is None for column in columns
    ):
        raise ValueError(f"{build.__name__}: only plain model columns can be selected")
    return _Compiled(
        sql=sql,
        parameters=len(params),
        model=queryset.model,
        names=[column.target.attname for column in columns],
        converters=[
            (position, functions, expression)
            for position, (functions, expression) in compiler.get_converters(columns).items()
        ],
    )


def update(model: type[models.Model], ids: Sequence[int], **values) -> None:
    """``UPDATE model SET values WHERE id IN ids``, values prepared by their fields."""
    if not ids:
        return
    connection = transaction.get_connection()
    sql, fields = _update_statement(
        model, tuple(values), connection.vendor, len(ids), connection.ops.quote_name
    )
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields] + list(
        ids
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@functools.cache
def _update_statement(
    model: type[models.Model], names: tuple[str, ...], vendor: str, count: int, quote
) -> tuple[str, list]:
    fields = [model._meta.get_field(name) for name in names]
    sql = "UPDATE {} SET {} WHERE {} IN ({})".format(
        quote(model._meta.db_table),
        ", ".join(f"{quote(field.column)} = %s" for field in fields),
        quote(model._meta.pk.column),
        ", ".join(["%s"] * count),
    )
    return sql, fields


def update_rows(model: type[models.Model], names: tuple[str, ...], rows: Sequence[Sequence]) -> int:
    """Set the fields ``names`` of each row of ``model`` to its own values, in one
    statement: ``rows`` are (pk, value of each name); returns the rows updated.

    ``bulk_update`` writes a CASE with one branch per row for each field: Django
    builds those expressions slowly and the database tries the branches in turn for
    every row, quadratic in the rows. Here a VALUES list is joined on the primary
    key (``UPDATE … FROM``, SQLite 3.33 and PostgreSQL): one pass. PostgreSQL is
    told each value's type (a column of a VALUES list that is all NULL would be
    text); SQLite needs no casts, and would store a cast date as a number.
    """
    if not rows:
        return 0
    connection = transaction.get_connection()
    meta = model._meta
    fields = [meta.pk, *(meta.get_field(name) for name in names)]
    quote = connection.ops.quote_name
    if connection.vendor == "sqlite":
        placeholders = ["%s"] * len(fields)
    else:
        placeholders = [f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields]
    row = "({})".format(", ".join(placeholders))
    sql = "UPDATE {table} SET {assignments} FROM (VALUES {rows}) AS v WHERE {where}".format(
        table=quote(meta.db_table),
        assignments=", ".join(
            f"{quote(field.column)} = v.column{position}"
            for position, field in enumerate(fields[1:], start=2)
        ),
        rows=", ".join([row] * len(rows)),
        where=f"{quote(meta.db_table)}.{quote(meta.pk.column)} = v.column1",
    )
    params = [
        field.get_db_prep_save(value, connection)
        for values in rows
        for field, value in zip(fields, values, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
