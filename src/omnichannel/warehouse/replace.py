"""Replacing derived tables whole: each built aside as ``<name>__next``, then swapped in.

A rebuild that emptied ``profiles`` and refilled it let a reader (the Profile API, a
segment query) see an empty or half-filled table for the length of the build. Instead
the new rows go into side tables first; one transaction then drops the old tables and
renames the new ones (``EngineAPI.replace_tables``), so a reader sees either every old
table or every new one (readers of the old version keep their snapshot). Rows are
written in ``order_by`` order: DuckDB keeps insertion order, so each row group holds a
narrow range of, say, profile ids and its min/max statistics let a point read skip every
other group. An index, where asked for, is created on the renamed table inside the same
transaction (DuckDB cannot rename a table that has one), under a stable name
(``omni_<table>_<column>``).

Example::

    wh.replace("profiles", expr, order_by=("profile_id",))
    wh.replace_all([Replacement("record_profiles", a, schema_a), Replacement(...)])
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

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

    @property
    def side_name(self) -> str:
        return self.name + SIDE_SUFFIX

    def typed_rows(self) -> ir.Table:
        """The rows with exactly the schema's columns and types, in ``order_by`` order."""
        typed = self.rows.select(
            *[self.rows[c].cast(self.schema[c]).name(c) for c in self.schema.names]
        )
        return typed.order_by(list(self.order_by)) if self.order_by else typed


def index_name(table: str, columns: tuple[str, ...]) -> str:
    return f"omni_{table}_{columns[0]}"


def swap_statements(engine: str, r: Replacement) -> list[str]:
    """Drop the old table, rename the side table into its place, index it if asked."""
    table = sg.table(r.name, quoted=True)
    statements = [
        sge.Drop(this=table, kind="TABLE", exists=True),
        sge.Alter(
            this=sg.table(r.side_name, quoted=True),
            kind="TABLE",
            actions=[sge.AlterRename(this=sg.table(r.name, quoted=True))],
        ),
    ]
    if r.index and engine in r.index_engines:
        # The old table's index went with it, so its name is free again.
        statements.append(
            sge.Create(
                kind="INDEX",
                this=sge.Index(
                    this=sg.to_identifier(index_name(r.name, r.index), quoted=True),
                    table=table,
                    params=sge.IndexParameters(
                        columns=[sge.Ordered(this=sg.column(c, quoted=True)) for c in r.index]
                    ),
                ),
            )
        )
    return [s.sql(engine) for s in statements]
