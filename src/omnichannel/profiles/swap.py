"""Replace derived tables whole: build each aside, then swap them all in one transaction.

A rebuild that emptied ``profiles`` and refilled it let a reader (the Profile API, a
segment query) see an empty or half-filled table for the length of the build. Here the
new rows go into ``<name>__next`` tables first; one transaction then drops the old
tables and renames the new ones, so a reader sees either every old table or every new
one (DuckDB and PostgreSQL both keep DDL transactional; readers of the old version keep
their snapshot). Rows are written in ``order_by`` order: DuckDB keeps insertion order, so
each row group holds a narrow range of profile ids and its min/max statistics let a
point read by ``profile_id`` skip every other group.

Example::

    replace_tables(wh, [Replacement("profiles", expr, schema, order_by=("profile_id",))])
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from omnichannel.warehouse import Warehouse, dialect

SIDE_SUFFIX = "__next"


@dataclass(frozen=True)
class Replacement:
    """New contents for one table: its rows, its schema, and the physical order to write."""

    name: str
    rows: ir.Table
    schema: ibis.Schema
    order_by: tuple[str, ...] = ()
    # Columns of a B-tree index PostgreSQL gets on the new table (DuckDB relies on order).
    index: tuple[str, ...] = ()


def replace_tables(
    wh: Warehouse,
    replacements: Sequence[Replacement],
    *,
    written: Callable[[str], None] | None = None,
) -> None:
    """Write every replacement aside, then swap them all in at once.

    ``written(name)`` is called after each table is written aside (a progress report; the
    old tables are still the ones readers see).
    """
    statements: list[str] = []
    for r in replacements:
        side = r.name + SIDE_SUFFIX
        wh.con.drop_table(side, force=True)
        wh.con.create_table(side, schema=r.schema)
        typed = r.rows.select(*[r.rows[c].cast(r.schema[c]).name(c) for c in r.schema.names])
        if r.order_by:
            typed = typed.order_by(list(r.order_by))
        wh.con.insert(side, typed)
        if r.index and wh.engine == "postgres":
            # A fresh name each time: the old table's index goes with the old table.
            name = f"omni_{r.name}_{uuid.uuid4().hex[:8]}"
            columns = ", ".join(f'"{c}"' for c in r.index)
            dialect.execute(wh.con, f'CREATE INDEX "{name}" ON "{side}" ({columns})')
        statements += [
            f'DROP TABLE IF EXISTS "{r.name}"',
            f'ALTER TABLE "{side}" RENAME TO "{r.name}"',
        ]
        if written is not None:
            written(r.name)
    _in_one_transaction(wh, statements)


def _in_one_transaction(wh: Warehouse, statements: list[str]) -> None:
    if wh.engine == "postgres":
        with wh.con.begin() as cursor:
            for sql in statements:
                cursor.execute(sql)
        return
    if wh.engine != "duckdb":
        # Engines without transactional DDL (Spark, ClickHouse): the swap is two quick
        # statements per table rather than atomic.
        for sql in statements:
            dialect.execute(wh.con, sql)
        return
    raw = wh.con.con
    raw.execute("BEGIN TRANSACTION")
    try:
        for sql in statements:
            raw.execute(sql)
        raw.execute("COMMIT")
    except Exception:
        raw.execute("ROLLBACK")
        raise
