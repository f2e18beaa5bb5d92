"""The warehouse: canonical tables on whichever engine the URL names.

Example::

    wh = Warehouse.open("duckdb:///tmp/omni.duckdb")
    wh.append("stores", stores_arrow_table)
    t = wh.table("orders")
    revenue = t.group_by("channel").agg(revenue=t.total.sum()).to_pyarrow()
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from omnichannel.errors import ValidationError, WarehouseError
from omnichannel.warehouse import backends, dialect
from omnichannel.warehouse.tables import ALL_TABLES, BY_NAME, RECORD_HISTORY, TableSpec
from omnichannel.warehouse.versioning import SchemaReport, ensure_schema
from omnichannel.warehouse.versions import NEW, NEWER, OLDER, SAME, STATE, classify, history_rows


@dataclass(frozen=True)
class UpsertResult:
    """What ``Warehouse.upsert`` did with each incoming row, and the keys it touched."""

    inserted: int
    updated: int
    unchanged: int
    older: int
    # Keys (only the key columns) whose current version was replaced / that arrived older.
    updated_keys: pa.Table
    older_keys: pa.Table

    @property
    def written(self) -> int:
        return self.inserted + self.updated


class Warehouse:
    """An open warehouse whose canonical tables exist at the current schema version."""

    def __init__(self, con: BaseBackend, url: str, report: SchemaReport) -> None:
        self.con = con
        self.url = url
        self.schema_report = report
        # True while ``transaction()`` is open: DuckDB statements then run on the
        # connection itself, since a cursor is a separate connection outside it.
        self._in_transaction = False

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

    def _duckdb(self) -> duckdb.DuckDBPyConnection | None:
        con = getattr(self.con, "con", None)
        if self.engine == "duckdb" and isinstance(con, duckdb.DuckDBPyConnection):
            return con
        return None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything this warehouse runs inside the block commits together, or not at all.

        On DuckDB the block is a transaction on this warehouse's connection; on
        PostgreSQL a psycopg transaction, in which Ibis's own per-statement
        transactions become savepoints. Readers on other connections see the state
        before the block until it commits. A block inside another joins it. ClickHouse
        and Spark have no multi-statement transactions: there the block runs its
        statements one after another, as before.
        """
        if self._in_transaction:
            yield
            return
        duck = self._duckdb()
        if duck is not None:
            duck.begin()
            self._in_transaction = True
            try:
                yield
            except BaseException:
                duck.rollback()
                raise
            else:
                duck.commit()
            finally:
                self._in_transaction = False
            return
        if self.engine == "postgres":
            self._in_transaction = True
            try:
                with self.con.con.transaction():
                    yield
            finally:
                self._in_transaction = False
            return
        yield

    @contextmanager
    def _duckdb_statements(
        self, con: duckdb.DuckDBPyConnection, scratch: pa.Table
    ) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
        """A DuckDB connection to run statements on with ``scratch`` registered, and its name.

        Outside a transaction, a cursor of its own (nothing is left registered on the
        shared connection); inside one, the transaction's connection itself, so the
        statements are part of it.
        """
        name = f"_omni_scratch_{uuid.uuid4().hex[:12]}"
        runner = con if self._in_transaction else con.cursor()
        try:
            runner.register(name, scratch)
            yield runner, name
        finally:
            if self._in_transaction:
                runner.unregister(name)
            else:
                runner.close()

    def rows_with_keys(self, name: str, keys: pa.Table) -> pa.Table:
        """The stored rows whose key columns (those of ``keys``) match one of ``keys``."""
        spec = self.spec(name)
        stored = self.table(name)
        if keys.num_rows == 0 or int(stored.count().to_pyarrow().as_py()) == 0:
            return conform(spec, pa.table({}))
        found = stored.semi_join(ibis.memtable(keys), list(keys.column_names)).to_pyarrow()
        return conform(spec, found)

    def delete_keys(self, name: str, keys: pa.Table) -> None:
        """Delete the rows whose key columns (those of ``keys``) match one of ``keys``."""
        if keys.num_rows == 0:
            return
        spec = self.spec(name)
        match = " AND ".join(f'k."{c}" = "{spec.name}"."{c}"' for c in keys.column_names)

        def delete_sql(scratch: str) -> str:
            return (
                f'DELETE FROM "{spec.name}" '
                f'WHERE EXISTS (SELECT 1 FROM "{scratch}" AS k WHERE {match})'
            )

        con = self._duckdb()
        if con is not None:
            with self._duckdb_statements(con, keys) as (runner, scratch):
                try:
                    runner.execute(delete_sql(scratch))
                except duckdb.Error as exc:
                    raise WarehouseError(
                        f"could not delete from {spec.name}: {exc}\n{delete_sql(scratch)}"
                    ) from exc
            return
        scratch = f"_omni_keys_{uuid.uuid4().hex[:12]}"
        sql = delete_sql(scratch)
        try:
            self.con.create_table(scratch, keys, temp=True)
            try:
                self._execute(sql)
            finally:
                self.con.drop_table(scratch, force=True)
        except Exception as exc:
            raise WarehouseError(f"could not delete from {spec.name}: {exc}\n{sql}") from exc

    def _execute(self, sql: str) -> None:
        """Run a statement that returns nothing, inside the open transaction if any."""
        if self._in_transaction and self.engine == "postgres":
            # Ibis's raw_sql calls rollback() on an error, which psycopg forbids inside
            # a transaction block; a cursor of the same connection stays inside it.
            with self.con.con.cursor() as cursor:
                cursor.execute(sql)
            return
        dialect.execute(self.con, sql)

    def append_new(
        self, name: str, rows: pa.Table | pd.DataFrame, key: tuple[str, ...] | None = None
    ) -> tuple[int, int]:
        """Append the rows whose ``key`` (default: the table's) is not stored yet.

        Returns (rows written, rows already stored). On DuckDB this is one
        ``INSERT ... WHERE NOT EXISTS`` statement; elsewhere an anti-join run by the
        warehouse's engine through Ibis, then an append.
        """
        spec = self.spec(name)
        data = conform(spec, rows)
        key = key or spec.key
        if data.num_rows == 0:
            return 0, 0
        con = self._duckdb()
        if con is not None:
            match = " AND ".join(f'r."{k}" = t."{k}"' for k in key)
            with self._duckdb_statements(con, data) as (runner, incoming):
                try:
                    counted = runner.execute(
                        f'INSERT INTO "{spec.name}" BY NAME SELECT * FROM "{incoming}" AS r '
                        f'WHERE NOT EXISTS (SELECT 1 FROM "{spec.name}" AS t WHERE {match})'
                    ).fetchone()
                except duckdb.Error as exc:
                    raise WarehouseError(f"could not append to {spec.name}: {exc}") from exc
            written = int(counted[0]) if counted else 0
            return written, data.num_rows - written
        stored = self.table(name)
        if int(stored.count().to_pyarrow().as_py()) > 0:
            fresh = ibis.memtable(data).anti_join(stored, list(key)).to_pyarrow()
            data = conform(spec, fresh)
        return self.append(name, data), int(conform(spec, rows).num_rows) - data.num_rows

    def upsert(
        self,
        name: str,
        rows: pa.Table | pd.DataFrame,
        *,
        version: str | None = None,
        at: datetime | None = None,
        after_step: Callable[[str], None] | None = None,
    ) -> UpsertResult:
        """Make each incoming row the current version of its key, unless it is older.

        A key not stored is inserted; a row equal to the stored one (``loaded_at``
        aside) changes nothing; a newer one (by the ``version`` column when both rows
        have it, else by arrival) replaces the stored row, which moves to
        ``record_history`` as ``superseded``; an older one goes straight to
        ``record_history`` as ``older_on_arrival``. See ``warehouse/versions.py``.

        It is one transaction (see ``transaction()``): a reader on another connection
        sees every record's old version until the commit, never a record missing, and
        a failure part-way (``after_step`` raising, a crash) leaves the table and
        ``record_history`` as they were. ``after_step``, if given, is called with the
        name of each step once it has run (``superseded_to_history``,
        ``superseded_deleted``, ``older_to_history``, ``current_appended``), still
        inside the transaction.
        """
        spec = self.spec(name)
        key = list(spec.key)
        data = _last_of_each_key(conform(spec, rows), key)
        at = at or datetime.now(UTC).replace(tzinfo=None)
        with self.transaction():
            stored = self.rows_with_keys(name, data.select(key))
            states = classify(spec, data, stored, version)
            state = states.column(STATE)

            def having(*wanted: str) -> pa.Table:
                mask = pc.is_in(state, value_set=pa.array(wanted))
                return states.filter(mask).drop([STATE])

            def step(done: str) -> None:
                if after_step is not None:
                    after_step(done)

            newer, older = having(NEWER), having(OLDER)
            if newer.num_rows:
                updated_keys = newer.select(key)
                superseded = stored.join(updated_keys, key, join_type="left semi")
                self.append_new(
                    RECORD_HISTORY.name,
                    history_rows(spec, superseded, reason="superseded", version=version, at=at),
                )
                step("superseded_to_history")
                self.delete_keys(name, updated_keys)
                step("superseded_deleted")
            if older.num_rows:
                self.append_new(
                    RECORD_HISTORY.name,
                    history_rows(spec, older, reason="older_on_arrival", version=version, at=at),
                )
                step("older_to_history")
            inserted = self.append(name, having(NEW, NEWER))
            step("current_appended")
        return UpsertResult(
            inserted=inserted - newer.num_rows,
            updated=newer.num_rows,
            unchanged=having(SAME).num_rows,
            older=older.num_rows,
            updated_keys=newer.select(key),
            older_keys=older.select(key),
        )

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


def _last_of_each_key(rows: pa.Table, key: list[str]) -> pa.Table:
    """One row per key: of rows given together, the later one is the later arrival."""
    if rows.num_rows < 2:
        return rows
    indexed = rows.append_column("__i", pa.array(range(rows.num_rows), pa.int64()))
    last = indexed.group_by(key, use_threads=False).aggregate([("__i", "max")])
    if last.num_rows == rows.num_rows:
        return rows
    return rows.take(pa.array(sorted(last.column("__i_max").to_pylist()), pa.int64()))


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
