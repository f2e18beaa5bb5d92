"""The warehouse: canonical tables on whichever engine the URL names.

Example::

    wh = Warehouse.open("duckdb:///tmp/omni.duckdb")
    wh.append("stores", stores_arrow_table)
    t = wh.table("orders")
    revenue = t.group_by("channel").agg(revenue=t.total.sum()).to_pyarrow()
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from omnichannel.errors import ValidationError, WarehouseError
from omnichannel.warehouse import backends, dialect
from omnichannel.warehouse.tables import ALL_TABLES, BY_NAME, TableSpec
from omnichannel.warehouse.versioning import SchemaReport, ensure_schema


class Warehouse:
    """An open warehouse whose canonical tables exist at the current schema version."""

    def __init__(self, con: BaseBackend, url: str, report: SchemaReport) -> None:
        self.con = con
        self.url = url
        self.schema_report = report

    @classmethod
    def open(cls, url: str) -> Warehouse:
        """Connect, then create, check or upgrade the schema (see ``versioning``)."""
        con = backends.connect(url)
        try:
            report = ensure_schema(con)
        except Exception:
            con.disconnect()
            raise
        return cls(con, url, report)

    @property
    def engine(self) -> str:
        return str(self.con.name)

    def close(self) -> None:
        self.con.disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def table(self, name: str) -> ibis.Table:
        return self.con.table(self.spec(name).name)

    @staticmethod
    def spec(name: str) -> TableSpec:
        try:
            return BY_NAME[name]
        except KeyError:
            raise ValidationError("table", name, f"one of {', '.join(sorted(BY_NAME))}") from None

    def append(self, name: str, rows: pa.Table | pd.DataFrame) -> int:
        """Append rows to a canonical table; returns how many were written.

        Columns are matched by name and cast to the table's types; a column the table
        lacks is an error (it would be silently lost otherwise), a column the rows lack
        is written as NULL.
        """
        spec = self.spec(name)
        data = conform(spec, rows)
        if data.num_rows:
            try:
                self.con.insert(spec.name, data)
            except Exception as exc:
                raise WarehouseError(f"could not append to {spec.name}: {exc}") from exc
        return int(data.num_rows)

    def truncate(self, names: list[str] | None = None) -> None:
        """Empty canonical tables (all of them by default), keeping their schemas."""
        for spec in ALL_TABLES if names is None else [self.spec(n) for n in names]:
            dialect.execute(self.con, f'DELETE FROM "{spec.name}"')

    def counts(self) -> dict[str, int]:
        """Rows in each canonical table."""
        return {
            spec.name: int(self.table(spec.name).count().to_pyarrow().as_py())
            for spec in ALL_TABLES
        }

    def sql(self, expr: ibis.Expr) -> str:
        """The SQL this warehouse's engine would run for an expression."""
        return str(ibis.to_sql(expr, dialect=self.engine))

    def query(self, expr: ibis.Expr) -> pa.Table:
        return expr.to_pyarrow()

    def describe(self) -> dict[str, Any]:
        return {
            "url": backends.redact(self.url),
            "engine": self.engine,
            "schema_version": self.schema_report.version,
            "tables": self.counts(),
        }


def conform(spec: TableSpec, rows: pa.Table | pd.DataFrame | Mapping[str, Any]) -> pa.Table:
    """Rows as an Arrow table with exactly the spec's columns and types."""
    if isinstance(rows, pd.DataFrame):
        table = pa.Table.from_pandas(rows, preserve_index=False)
    elif isinstance(rows, pa.Table):
        table = rows
    else:
        table = pa.table(dict(rows))
    extra = sorted(set(table.column_names) - set(spec.schema.names))
    if extra:
        raise ValidationError(
            f"{spec.name} columns", extra, f"columns of {spec.name}: {', '.join(spec.schema.names)}"
        )
    target = spec.schema.to_pyarrow()
    columns = []
    for pa_field in target:
        if pa_field.name in table.column_names:
            column = table.column(pa_field.name)
            try:
                columns.append(column.cast(pa_field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValidationError(
                    f"{spec.name}.{pa_field.name}",
                    str(column.type),
                    f"values castable to {spec.schema[pa_field.name]} ({exc})",
                ) from exc
        else:
            columns.append(pa.nulls(table.num_rows, pa_field.type))
    return pa.Table.from_arrays(columns, schema=target)


@contextmanager
def open_warehouse(url: str) -> Iterator[Warehouse]:
    wh = Warehouse.open(url)
    try:
        yield wh
    finally:
        wh.close()
