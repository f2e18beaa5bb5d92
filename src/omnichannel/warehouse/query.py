"""Ad-hoc read-only SQL over the warehouse, for analysts who want SQL-level truth."""

from __future__ import annotations

import pyarrow as pa
import sqlglot
import sqlglot.expressions as sge

from omnichannel.errors import ValidationError, WarehouseError
from omnichannel.warehouse.store import Warehouse

_READ_ONLY = (sge.Select, sge.Union, sge.Intersect, sge.Except)


def run_sql(wh: Warehouse, sql: str, *, limit: int | None = None) -> pa.Table:
    """Run one SELECT in the engine's dialect; anything that writes is refused."""
    try:
        statements = sqlglot.parse(sql, read=wh.engine)
    except sqlglot.errors.ParseError as exc:
        raise ValidationError(
            "sql", sql, f"one valid {wh.engine} SELECT statement ({exc})"
        ) from exc
    statements = [s for s in statements if s is not None]
    if len(statements) != 1 or not isinstance(statements[0], _READ_ONLY):
        raise ValidationError("sql", sql, "exactly one read-only SELECT statement")
    try:
        expr = wh.con.sql(sql)
        if limit is not None:
            expr = expr.limit(limit)
        return expr.to_pyarrow()
    except Exception as exc:
        raise WarehouseError(f"query failed: {exc}\nSQL: {sql}") from exc
