"""Schema version of a warehouse: create it, upgrade it, or refuse it clearly.

Additive changes (a table or a nullable column that an older warehouse lacks) are
applied automatically. Anything else, say a renamed column or a changed type, needs
an explicit step in ``UPGRADE_STEPS`` keyed by the version it upgrades from; without
one, opening the warehouse fails with a message naming the table, the column, what
was found and what this version expects.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge
from ibis.backends import BaseBackend

from omnichannel.errors import SchemaVersionError
from omnichannel.warehouse import dialect
from omnichannel.warehouse.tables import (
    ALL_TABLES,
    META_SCHEMA,
    META_TABLE,
    SCHEMA_VERSION,
    TableSpec,
)

UpgradeStep = Callable[[BaseBackend], None]


def _order_lines_source(con: BaseBackend) -> None:
    """Version 1 keyed orders by order_id alone; version 2 by (source, order_id).

    Order lines gain ``source``; a version-1 line takes its order's source, which was
    unambiguous then because an order id could only be stored once.
    """
    if "order_lines" not in con.list_tables() or "orders" not in con.list_tables():
        return
    if "source" not in con.get_schema("order_lines"):
        dialect.add_column(con, "order_lines", "source", dt.string)
    dialect.execute(
        con,
        'UPDATE "order_lines" SET "source" = (SELECT o."source" FROM "orders" AS o '
        'WHERE o."order_id" = "order_lines"."order_id") WHERE "source" IS NULL',
    )


def _timeline_outbox_id(con: BaseBackend) -> None:
    """Version 4: ``profile_timeline`` (the profile build's) gains ``outbox_id``.

    Rows stored before it stay NULL (each delivery its own touch) until the next build
    rewrites the table; the Profile API keeps reading it meanwhile.
    """
    table = "profile_timeline"
    if table in con.list_tables() and "outbox_id" not in con.get_schema(table):
        dialect.add_column(con, table, "outbox_id", dt.int64)


# Indexes kept on an engine, made when missing (cheap to check, so on every open).
# PostgreSQL: the writer reads the highest load_seq for every batch (under its numbering
# lock) and consumers read "after N" in load_seq order; every batch also looks up each
# of its message ids among the last day's events (the dedupe window), and dead letters
# by their id. Indexes make these lookups instead of scans of every row. DuckDB prunes
# by row-group min/max instead.
INDEXES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "postgres": [
        ("events", ("load_seq",)),
        ("events", ("message_id", "loaded_at")),
        ("dead_letters", ("dead_letter_id",)),
    ],
}

# version N -> the step that turns an N warehouse into N+1 (beyond additive changes).
UPGRADE_STEPS: dict[int, UpgradeStep] = {1: _order_lines_source, 3: _timeline_outbox_id}


@dataclass
class SchemaReport:
    """What opening a warehouse did to its schema."""

    found_version: int | None
    version: int
    created_tables: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)

    @property
    def upgraded(self) -> bool:
        return self.found_version is not None and self.found_version < self.version


def read_version(con: BaseBackend) -> int | None:
    """The schema version stamped in the warehouse, or None for an empty one."""
    if META_TABLE not in con.list_tables():
        return None
    meta = con.table(META_TABLE)
    rows = meta.filter(meta.key == "schema_version").value.to_pyarrow().to_pylist()
    if not rows:
        return None
    try:
        return int(rows[-1])
    except ValueError as exc:
        raise SchemaVersionError(
            f"{META_TABLE}.schema_version={rows[-1]!r} is not an integer version"
        ) from exc


def write_version(con: BaseBackend, version: int) -> None:
    if META_TABLE not in con.list_tables():
        con.create_table(META_TABLE, schema=META_SCHEMA)
    dialect.delete(con, META_TABLE, sg.column("key", quoted=True).eq(sge.convert("schema_version")))
    con.insert(
        META_TABLE,
        pa.table({"key": ["schema_version"], "value": [str(version)]}),
    )


def ensure_schema(con: BaseBackend) -> SchemaReport:
    """Create, check or upgrade the canonical tables; refuse what cannot be read."""
    found = read_version(con)
    if found is not None and found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"warehouse schema_version={found} was written by a newer Omnichannel; this "
            f"version reads schema versions up to {SCHEMA_VERSION}. Upgrade omnichannel."
        )
    report = SchemaReport(found_version=found, version=SCHEMA_VERSION)
    for version in range(found or SCHEMA_VERSION, SCHEMA_VERSION):
        step = UPGRADE_STEPS.get(version)
        if step is not None:
            step(con)
    _apply_additive(con, report)
    for table, columns in INDEXES.get(str(con.name), []):
        dialect.execute(con, dialect.create_index_sql(str(con.name), table, columns))
    if found != SCHEMA_VERSION:
        write_version(con, SCHEMA_VERSION)
    return report


def _apply_additive(con: BaseBackend, report: SchemaReport) -> None:
    # Every open of a warehouse (each CLI command, each test's home) passes here, so it
    # reads all the tables' columns in one query where the engine allows it, and creates
    # a missing table with one cached CREATE TABLE statement: through Ibis each table
    # cost a DESCRIBE and a sqlglot round trip per column, 0.13-0.2 CPU-s an open of the
    # 32 tables and 0.3-0.4 s a new warehouse.
    existing = set(con.list_tables())
    columns_of = _all_columns(con)
    for spec in ALL_TABLES:
        if spec.name not in existing:
            dialect.execute(con, _create_table_sql(str(con.name), spec))
            report.created_tables.append(spec.name)
            continue
        actual = columns_of[spec.name] if columns_of is not None else con.get_schema(spec.name)
        for column, expected in spec.schema.items():
            if column not in actual:
                dialect.add_column(con, spec.name, column, expected)
                report.added_columns.append(f"{spec.name}.{column}")
            elif not _compatible(actual[column], expected):
                raise SchemaVersionError(
                    f"warehouse column {spec.name}.{column} has type {actual[column]}, "
                    f"this version expects {expected}; no upgrade step converts it "
                    f"(schema version {SCHEMA_VERSION})"
                )


_TYPES_OF = {"pyspark": "spark"}


@functools.cache
def _create_table_sql(engine: str, spec: TableSpec) -> str:
    """``CREATE TABLE`` for one canonical table in ``engine``'s dialect (what Ibis's
    ``create_table`` sends, without its read back of the new table's schema)."""
    target = sge.Schema(
        this=sg.table(spec.name, quoted=True),
        # Ibis names Spark's type mapping "spark", its backend and dialect "pyspark".
        expressions=ibis.schema(spec.schema).to_sqlglot_column_defs(_TYPES_OF.get(engine, engine)),
    )
    return sge.Create(kind="TABLE", this=target).sql(engine)


def _all_columns(con: BaseBackend) -> dict[str, dict[str, dt.DataType]] | None:
    """Every table's columns and types in one query on DuckDB; None elsewhere (the
    caller asks per table)."""
    if con.name != "duckdb":
        return None
    rows = con.con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = current_schema() "
        "ORDER BY table_name, column_index"
    ).fetchall()
    columns: dict[str, dict[str, dt.DataType]] = {}
    for table, column, type_text in rows:
        columns.setdefault(table, {})[column] = _duckdb_type(type_text)
    return columns


@functools.cache
def _duckdb_type(type_text: str) -> dt.DataType:
    from ibis.backends.sql.datatypes import DuckDBType

    return DuckDBType.from_string(type_text)


def _compatible(actual: dt.DataType, expected: dt.DataType) -> bool:
    """Types match up to nullability and the precision engines report differently."""
    if actual.copy(nullable=True) == expected.copy(nullable=True):
        return True
    if actual.is_timestamp() and expected.is_timestamp():
        return actual.timezone == expected.timezone
    if actual.is_string() and expected.is_string():
        return True
    return bool(actual.is_integer() and expected.is_integer())
