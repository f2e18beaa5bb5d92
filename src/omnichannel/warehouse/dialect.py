"""The few statements Ibis does not express, compiled for each engine with sqlglot.

Ibis covers queries, table creation and inserts; schema evolution (adding a column),
appending only rows not stored yet and deleting by key are not in its API, so they live
here, built as sqlglot trees and rendered in the backend's own dialect rather than as a
hand-written string per engine.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

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


def insert_new_sql(
    engine: str,
    table: str,
    *,
    columns: Sequence[str],
    source: sge.Expression,
    key: Sequence[str],
    since: datetime | None = None,
    sequence: str | None = None,
    base: int | None = None,
    returning: bool = False,
    ordinal: str | None = None,
) -> str:
    """INSERT the ``source`` rows whose ``key`` ``table`` does not hold (among rows loaded
    ``since``, if given), numbering ``sequence`` after ``base`` (None: after the stored
    maximum, read by the statement itself). With no ``key`` every row is inserted.

    ``ordinal``: a column of the source giving each row's place; the rows are numbered in
    its order. Without it they are numbered in scan order, which an engine reading the
    source in parallel (DuckDB over a multi-chunk Arrow table) does not keep."""
    literal = None if since is None else sge.convert(since)
    after = None if base is None else sge.Literal.number(int(base))
    if not isinstance(source, sge.Table):
        return _insert_new(
            engine,
            table,
            tuple(columns),
            source,
            tuple(key),
            literal,
            sequence,
            after,
            returning,
            ordinal,
        )
    # A staged table: the loader's path, once per micro-batch. Building the tree costs
    # more than the statement on a small batch, so the text is built once per shape.
    template = _insert_new_template(
        engine,
        table,
        tuple(columns),
        tuple(key),
        since is not None,
        sequence,
        base is not None,
        returning,
        ordinal,
    )
    text = template.replace(_SOURCE, source.sql(engine))
    if after is not None:
        text = text.replace(_BASE, after.sql(engine))
    return text if literal is None else text.replace(_SINCE, literal.sql(engine))


_SOURCE = '"__omni_source__"'
_SINCE = "__omni_since__"
_BASE = "__omni_base__"


@functools.lru_cache(maxsize=256)
def _insert_new_template(
    engine: str,
    table: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    windowed: bool,
    sequence: str | None,
    based: bool,
    returning: bool,
    ordinal: str | None,
) -> str:
    source = sg.table(_SOURCE.strip('"'), quoted=True)
    since = sg.column(_SINCE) if windowed else None
    base = sg.column(_BASE) if based else None
    return _insert_new(
        engine, table, columns, source, key, since, sequence, base, returning, ordinal
    )


def last_number_sql(engine: str, table: str, column: str, at_least: int | None) -> str:
    """The highest ``column`` stored, looking only at values of ``at_least`` or more.

    Numbers are appended in rising order, so on DuckDB the filter skips every row group
    but the newest by its min/max: the writer's last number makes this a cheap check
    instead of a scan of every event (NULL when nothing is that high)."""
    query = sg.select(sge.Max(this=sg.column(column, quoted=True))).from_(
        sg.table(table, quoted=True)
    )
    if at_least is not None:
        query = query.where(sg.column(column, quoted=True) >= sge.Literal.number(at_least))
    return query.sql(engine)


def _insert_new(
    engine: str,
    table: str,
    columns: tuple[str, ...],
    source: sge.Expression,
    key: tuple[str, ...],
    since: sge.Expression | None,
    sequence: str | None,
    base: sge.Expression | None,
    returning: bool,
    ordinal: str | None = None,
) -> str:
    stored = sg.table(table, quoted=True)
    conditions: list[sge.Expression] = [
        sg.column(k, "t", quoted=True).eq(sg.column(k, "r", quoted=True)) for k in key
    ]
    if since is not None:
        conditions.append(sg.column("loaded_at", "t", quoted=True) >= since)
    selected: list[sge.Expression] = [
        sg.column(c, "r", quoted=True) for c in columns if c != sequence
    ]
    names = [c for c in columns if c != sequence]
    if sequence is not None:
        if base is None:
            last = sg.select(sge.Max(this=sg.column(sequence, quoted=True))).from_(stored.copy())
            base = sge.Coalesce(this=last.subquery(), expressions=[sge.Literal.number(0)])
        order = None
        if ordinal is not None:
            by = sge.Ordered(this=sg.column(ordinal, "r", quoted=True))
            order = sge.Order(expressions=[by])
        window = sge.Window(this=sge.RowNumber(), order=order)
        numbered = sge.Add(this=base, expression=window)
        selected.append(numbered.as_(sequence, quoted=True))
        names.append(sequence)
    rows = source.as_("r") if isinstance(source, sge.Table) else source.as_("r", quoted=True)
    select = sg.select(*selected).from_(rows)
    if key:
        exists = sge.Exists(
            this=sg.select(sge.Literal.number(1))
            .from_(stored.copy().as_("t"))
            .where(sg.and_(*conditions))
        )
        select = select.where(sge.Not(this=exists))
    insert = sge.Insert(
        this=sge.Schema(this=stored, expressions=[sg.to_identifier(c, quoted=True) for c in names]),
        expression=select,
        returning=sge.Returning(expressions=[sge.Star()]) if returning else None,
    )
    return insert.sql(engine)


def create_index_sql(engine: str, table: str, columns: Sequence[str]) -> str:
    """CREATE INDEX IF NOT EXISTS omni_<table>_<column> ON table (columns)."""
    return sge.Create(
        kind="INDEX",
        exists=True,
        this=sge.Index(
            this=sg.to_identifier(f"omni_{table}_{columns[0]}", quoted=True),
            table=sg.table(table, quoted=True),
            params=sge.IndexParameters(
                columns=[sge.Ordered(this=sg.column(c, quoted=True)) for c in columns]
            ),
        ),
    ).sql(engine)


def delete_keys_sql(engine: str, table: str, keys: str, columns: Sequence[str]) -> list[str]:
    """DELETE the rows of ``table`` whose ``columns`` match a row of the table ``keys``."""
    match = sg.and_(
        *[sg.column(c, "k", quoted=True).eq(sg.column(c, table, quoted=True)) for c in columns]
    )
    exists = sge.Exists(
        this=sg.select(sge.Literal.number(1))
        .from_(sg.table(keys, quoted=True).as_("k"))
        .where(match)
    )
    return delete_sql(engine, table, exists)


# Engines whose tables take no DELETE: Spark's file tables (Parquet, without Delta).
_NO_DELETE = {"pyspark"}
KEPT_SUFFIX = "__kept"


def delete_sql(engine: str, table: str, where: sge.Expression | None = None) -> list[str]:
    """The statements that delete ``table``'s rows matching ``where`` (None: every row).

    One ``DELETE`` where the engine has it. Spark's file tables have none, so there the
    rows to keep are written aside (``<table>__kept``), the table dropped and the kept
    one renamed into its place: between the drop and the rename a reader finds no table
    (Spark has no multi-statement transactions; see docs/warehouse.md, engine gaps)."""
    target = sg.table(table, quoted=True)
    if engine not in _NO_DELETE:
        return [
            sge.Delete(this=target, where=None if where is None else sge.Where(this=where)).sql(
                engine
            )
        ]
    if where is None:
        return [f"TRUNCATE TABLE {target.sql(engine)}"]
    kept = sg.table(table + KEPT_SUFFIX, quoted=True)
    # COALESCE: a row whose condition is NULL was not deleted by DELETE, so it is kept.
    keep = sge.Not(this=sge.Coalesce(this=sge.paren(where), expressions=[sge.false()]))
    rows = sg.select(sge.Star()).from_(target.copy()).where(keep)
    return [
        sge.Drop(this=kept.copy(), kind="TABLE", exists=True).sql(engine),
        sge.Create(kind="TABLE", this=kept.copy(), expression=rows).sql(engine),
        sge.Drop(this=target.copy(), kind="TABLE", exists=True).sql(engine),
        sge.Alter(
            this=kept.copy(), kind="TABLE", actions=[sge.AlterRename(this=target.copy())]
        ).sql(engine),
    ]


def delete(con: BaseBackend, table: str, where: sge.Expression | None = None) -> None:
    """Delete ``table``'s rows matching ``where`` (None: every row) on any engine."""
    for sql in delete_sql(_dialect(con), table, where):
        execute(con, sql)
