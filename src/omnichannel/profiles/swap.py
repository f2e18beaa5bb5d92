"""Replace derived tables whole: build each aside, then swap them all in one transaction.

A rebuild that emptied ``profiles`` and refilled it let a reader (the Profile API, a
segment query) see an empty or half-filled table for the length of the build. Here the
new rows go into ``<name>__next`` tables first; one transaction then drops the old
tables and renames the new ones, so a reader sees either every old table or every new
one (DuckDB and PostgreSQL both keep DDL transactional; readers of the old version keep
their snapshot). Rows are written in ``order_by`` order: DuckDB keeps insertion order, so
each row group holds a narrow range of profile ids and its min/max statistics let a
point read by ``profile_id`` skip every other group. An index, where asked for, is
created on the renamed table inside the same transaction (DuckDB cannot rename a table
that has one), under a stable name (``omni_<table>_<column>``).

Example::

    replace_tables(wh, [Replacement("profiles", expr, schema, order_by=("profile_id",))])
"""

from __future__ import annotations

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
    # Columns of an index on the new table, on the engines named (a big DuckDB table
    # usually does without: its row-group statistics on the sort order prune as well).
    index: tuple[str, ...] = ()
    index_engines: tuple[str, ...] = ("postgres",)


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
        statements += [
            f'DROP TABLE IF EXISTS "{r.name}"',
            f'ALTER TABLE "{side}" RENAME TO "{r.name}"',
        ]
        if r.index and wh.engine in r.index_engines:
            # The old table's index went with it, so its name is free again.
            columns = ", ".join(f'"{c}"' for c in r.index)
            statements.append(
                f'CREATE INDEX "{index_name(r.name, r.index)}" ON "{r.name}" ({columns})'
            )
        if written is not None:
            written(r.name)
    _in_one_transaction(wh, statements)


def index_name(table: str, columns: tuple[str, ...]) -> str:
    return f"omni_{table}_{columns[0]}"


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
