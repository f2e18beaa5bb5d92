"""Ad-hoc read-only SQL over the warehouse, for analysts who want SQL-level truth.

Example::

    result = run_sql(wh, "SELECT channel, COUNT(*) FROM orders GROUP BY 1", limit=100)
    result.table, result.total, result.truncated
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlglot
import sqlglot.expressions as sge

from omnichannel.errors import ValidationError, WarehouseError

if TYPE_CHECKING:
    import pyarrow as pa

    from omnichannel.warehouse.store import Warehouse

_READ_ONLY = (sge.Select, sge.Union, sge.Intersect, sge.Except)
# sqlglot underlines the offending token with terminal escapes; a message must be plain text.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# How Ibis/pyarrow (DuckDB) and PostgreSQL say that two result columns share a name.
_REPEATED = re.compile(
    r"Field \"(?P<name>[^\"]+)\" exists \d+ times"
    r"|column \"(?P<pg>[^\"]+)\" specified more than once"
)


@dataclass(frozen=True)
class QueryResult:
    """The rows a query returned (at most ``limit``), and how many it had in all."""

    table: pa.Table
    total: int
    limit: int | None

    @property
    def truncated(self) -> bool:
        return self.total > self.table.num_rows

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)


def run_sql(wh: Warehouse, sql: str, *, limit: int | None = None) -> QueryResult:
    """Run one SELECT in the engine's dialect; anything that writes is refused.

    At most ``limit`` rows are fetched; ``total`` is counted only when there are more.
    """
    statement = parse_read_only(sql, wh.engine)
    named = named_columns(statement)
    # The user's text is run as typed unless columns had to be named; Ibis wraps it in a
    # subquery, where a trailing semicolon would be a syntax error.
    runnable = sql.strip().rstrip(";") if named is statement else named.sql(dialect=wh.engine)
    try:
        expr = wh.con.sql(runnable)
        fetched = (expr if limit is None else expr.limit(limit + 1)).to_pyarrow()
        total = fetched.num_rows
        if limit is not None and total > limit:
            total = int(expr.count().to_pyarrow().as_py())
            fetched = fetched.slice(0, limit)
    except Exception as exc:
        message = _ANSI.sub("", str(exc))
        repeated = _REPEATED.search(message)
        if repeated:  # a ``*`` that named_columns() cannot see into
            name = repeated["name"] or repeated["pg"]
            message = (
                f"the result has several columns named {name!r} (a SELECT * over a join?); "
                "list the columns and give repeated ones their own alias, "
                f"e.g. b.{name} AS {name}_2"
            )
        raise WarehouseError(f"query failed: {message}\nSQL: {sql}") from exc
    return QueryResult(table=fetched, total=total, limit=limit)


def parse_read_only(sql: str, engine: str) -> sge.Expression:
    """The one read-only statement in ``sql``, or a ValidationError saying what is wrong."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=engine) if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise ValidationError(
            "sql", sql, f"one valid {engine} SELECT statement ({_describe(exc)})"
        ) from exc
    if len(statements) != 1 or not isinstance(statements[0], _READ_ONLY):
        raise ValidationError("sql", sql, "exactly one read-only SELECT statement")
    return statements[0]


def named_columns(statement: sge.Expression) -> sge.Expression:
    """The statement with every output column given a distinct name.

    Engines name ``COUNT(*)`` or ``json_extract(...)`` themselves and allow two columns
    with one name, but the warehouse reads results through Ibis, which needs one
    distinct, predictable name per column: unaliased expressions get their SQL text as
    alias and repeated names a ``_2``, ``_3`` suffix. ``*`` is left to the engine.
    """
    select = statement
    while isinstance(select, sge.SetOperation):  # a UNION takes its names from the left
        select = select.this
    if not isinstance(select, sge.Select) or not _needs_names(select):
        return statement
    statement = statement.copy()
    select = statement
    while isinstance(select, sge.SetOperation):
        select = select.this
    assert isinstance(select, sge.Select)
    seen: dict[str, int] = {}
    named = []
    for projection in select.expressions:
        if isinstance(projection, sge.Star) or (
            isinstance(projection, sge.Column) and isinstance(projection.this, sge.Star)
        ):
            named.append(projection)
            continue
        name = projection.alias_or_name
        if not isinstance(projection, sge.Alias | sge.Column) or not name:
            name = projection.sql()
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}_{seen[name]}"
        if isinstance(projection, sge.Column) and name == projection.name:
            named.append(projection)
        else:
            inner = projection.this if isinstance(projection, sge.Alias) else projection
            named.append(sge.alias_(inner, name, quoted=True))
    select.set("expressions", named)
    return statement


def _needs_names(select: sge.Select) -> bool:
    names = []
    for projection in select.expressions:
        if isinstance(projection, sge.Star):
            continue
        if not isinstance(projection, sge.Alias | sge.Column):
            return True
        names.append(projection.alias_or_name)
    return len(names) != len(set(names))


def _describe(exc: sqlglot.errors.ParseError) -> str:
    """sqlglot's first error as plain text: what, where, and the token it stopped at."""
    if not exc.errors:
        return _ANSI.sub("", str(exc))
    first = exc.errors[0]
    near = (first.get("highlight") or "").strip()
    where = f"line {first.get('line')}, column {first.get('col')}"
    return f"{first.get('description')} at {where}" + (f", near {near!r}" if near else "")
