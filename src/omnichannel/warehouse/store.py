"""The warehouse: canonical tables on whichever engine the URL names.

Example::

    wh = Warehouse.open("duckdb:///tmp/omni.duckdb")
    wh.append("stores", stores_arrow_table)
    t = wh.table("orders")
    revenue = t.group_by("channel").agg(revenue=t.total.sum()).to_pyarrow()
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from omnichannel.errors import ValidationError, WarehouseError
from omnichannel.warehouse import backends, dialect
from omnichannel.warehouse.conform import conform
from omnichannel.warehouse.engine import Appended, Sequences, engine_api
from omnichannel.warehouse.replace import Replacement
from omnichannel.warehouse.tables import ALL_TABLES, BY_NAME, RECORD_HISTORY, TableSpec
from omnichannel.warehouse.versioning import SchemaReport, ensure_schema
from omnichannel.warehouse.versions import NEW, NEWER, OLDER, SAME, STATE, classify, history_rows

if TYPE_CHECKING:
    import pandas as pd  # accepted as rows; imported by whoever made them

__all__ = ["Appended", "Replacement", "UpsertResult", "Warehouse", "conform", "open_warehouse"]


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

    def __init__(
        self,
        con: BaseBackend,
        url: str,
        report: SchemaReport,
        *,
        sequences: Sequences | None = None,
    ) -> None:
        self.con = con
        self.url = url
        self.schema_report = report
        # What differs between engines (appending only new rows, transactions, swaps).
        # Every connection to one database in this process numbers events under one
        # lock (see warehouse/engine.py): another connection's, or the URL's.
        self._api = engine_api(con, sequences if sequences is not None else _sequences(url))

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
    def sequences(self) -> Sequences:
        """This database's numbering lock, for other connections to the same database."""
        return self._api.sequences

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

    def one_of(self, value: ir.StringValue, values: Sequence[str]) -> ir.BooleanValue:
        """``value IN values``, in the form this engine filters a scan by fastest.

        DuckDB turns an ``IN`` list (or ORed equalities) on a column into an optional
        zone-map check and applies the filter after the scan, which has by then fetched
        every other column of every row; ``list_contains`` is evaluated inside the scan,
        which fetches the other columns of the matching rows only (10,000,000 events, a
        third matching: 0.40 against 0.58 CPU-seconds). Other engines get ``IN``, which
        their indexes and planners know."""
        names = list(values)
        if self.engine == "duckdb" and len(names) > 1:
            return ibis.literal(names, type="array<string>").contains(value)
        return value.isin(names)

    @staticmethod
    def spec(name: str) -> TableSpec:
        try:
            return BY_NAME[name]
        except KeyError:
            raise ValidationError("table", name, f"one of {', '.join(sorted(BY_NAME))}") from None

    def append(self, name: str, rows: pa.Table | pd.DataFrame | ir.Table) -> int:
        """Append rows to a canonical table; returns how many were written.

        Columns are matched by name and cast to the table's types; a column the table
        lacks is an error (it would be silently lost otherwise), a column the rows lack
        is written as NULL. ``rows`` may be an Ibis expression on this warehouse: its
        rows then never leave the engine, and of its columns those of the table are
        written (others, helpers of its computation, are left out).
        """
        spec = self.spec(name)
        if isinstance(rows, ir.Table):
            return self._api.append_new(spec, rows, key=()).written
        data = conform(spec, rows)
        if data.num_rows:
            try:
                self.con.insert(spec.name, data)
            except Exception as exc:
                raise WarehouseError(f"could not append to {spec.name}: {exc}") from exc
        return int(data.num_rows)

    def append_new(
        self,
        name: str,
        rows: pa.Table | pd.DataFrame | ir.Table,
        key: Sequence[str] | None = None,
        *,
        since: datetime | None = None,
        returning: bool = False,
    ) -> Appended:
        """Append the rows whose ``key`` (default: the table's) is not stored yet.

        ``since`` compares only rows stored (``loaded_at``) since then: the collector's
        dedupe window, so the cost follows the batch, not the table (rows are appended
        in ``loaded_at`` order, so DuckDB skips older row groups by their min/max).
        ``events`` rows get the next ``load_seq`` numbers. ``returning`` hands back the
        rows written. One ``INSERT ... WHERE NOT EXISTS`` statement on DuckDB and
        PostgreSQL; an anti-join through Ibis, then an append, elsewhere. ``rows`` may
        be an Ibis expression on this warehouse (then ``already`` is not counted).

        Example::

            done = wh.append_new("events", batch, ("message_id",), since=day_ago)
            done.written, done.already
        """
        spec = self.spec(name)
        key = tuple(key or spec.key)
        if not isinstance(rows, ir.Table):
            rows = conform(spec, rows)
        return self._api.append_new(spec, rows, key, since=since, returning=returning)

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
        with self._api.transaction():
            yield

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
        self._api.delete_keys(self.spec(name), keys)

    def replace(
        self,
        name: str,
        rows: ir.Table,
        *,
        order_by: tuple[str, ...] = (),
        index: tuple[str, ...] = (),
        index_engines: tuple[str, ...] = ("postgres",),
    ) -> None:
        """Replace a canonical table's rows whole: built aside, swapped in atomically.

        A reader sees the old rows or the new ones, never an empty table (see
        ``warehouse/replace.py``); ``order_by`` is the physical order written.
        """
        spec = self.spec(name)
        self.replace_all(
            [Replacement(spec.name, rows, spec.schema, order_by, index, index_engines)]
        )

    def replace_all(
        self, replacements: Sequence[Replacement], *, written: Callable[[str], None] | None = None
    ) -> None:
        """Several tables replaced together: all built aside, then one swap transaction.

        ``written(name)`` is called after each table is written aside (a progress
        report; the old tables are still the ones readers see).
        """
        self._api.replace_tables(replacements, written)

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
            for sql in dialect.delete_sql(self.engine, spec.name):
                self._api.execute(sql)

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


# One numbering state per database file this process opens: a DuckDB file opened twice
# in one process is one database instance (DuckDB caches them by path), so its
# connections must number under one lock. An in-memory database is its own each time.
_SEQUENCES: dict[str, Sequences] = {}
_SEQUENCES_LOCK = threading.Lock()


def _sequences(url: str) -> Sequences:
    key = backends.database_key(url)
    if key is None:
        return Sequences()
    with _SEQUENCES_LOCK:
        return _SEQUENCES.setdefault(key, Sequences())


def _last_of_each_key(rows: pa.Table, key: list[str]) -> pa.Table:
    """One row per key: of rows given together, the later one is the later arrival."""
    if rows.num_rows < 2:
        return rows
    indexed = rows.append_column("__i", pa.array(range(rows.num_rows), pa.int64()))
    last = indexed.group_by(key, use_threads=False).aggregate([("__i", "max")])
    if last.num_rows == rows.num_rows:
        return rows
    return rows.take(pa.array(sorted(last.column("__i_max").to_pylist()), pa.int64()))


@contextmanager
def open_warehouse(url: str) -> Iterator[Warehouse]:
    wh = Warehouse.open(url)
    try:
        yield wh
    finally:
        wh.close()
