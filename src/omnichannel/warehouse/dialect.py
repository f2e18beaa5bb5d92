"""The few statements Ibis does not express, compiled for each engine with sqlglot.

Ibis covers queries, table creation and inserts; schema evolution (adding a column)
is not in its API, so it lives here, built as a sqlglot tree and rendered in the
backend's own dialect rather than as a hand-written string per engine.
"""

from __future__ import annotations

import ibis.expr.datatypes as dt
import sqlglot as sg
import sqlglot.expressions as sge
from ibis.backends import BaseBackend


def _dialect(con: BaseBackend) -> str:
    return str(con.name)


def add_column_sql(con: BaseBackend, table: str, column: str, dtype: dt.DataType) -> str:
    """ALTER TABLE ... ADD COLUMN in the backend's dialect, the column nullable."""
    type_mapper = con.compiler.type_mapper
    column_def = sge.ColumnDef(
        this=sg.to_identifier(column, quoted=True),
        kind=type_mapper.from_ibis(dtype.copy(nullable=True)),
    )
    alter = sge.Alter(
        this=sg.table(table, quoted=True),
        kind="TABLE",
        actions=[column_def],
    )
    return alter.sql(_dialect(con))


def execute(con: BaseBackend, sql: str) -> None:
    """Run a statement that returns nothing, releasing any cursor the engine hands back."""
    result = con.raw_sql(sql)
    # DuckDB's raw_sql returns the connection itself, which must stay open.
    if con.name != "duckdb" and hasattr(result, "close"):
        result.close()


def add_column(con: BaseBackend, table: str, column: str, dtype: dt.DataType) -> None:
    execute(con, add_column_sql(con, table, column, dtype))
