"""What differs between engines, behind one small API (after Splink's ``DatabaseAPI``).

``EngineAPI`` holds the shared methods, final, that ``Warehouse`` calls: appending only
the rows whose key is not stored yet (``append_new``), deleting by key, replacing whole
tables (build aside, swap in one transaction), transactions, and running a statement
with any backend error re-raised naming the failing SQL. An engine subclass fills in
how statements run and how in-memory rows reach the engine (``_session``) and what a
transaction is (``_begin``):

- ``DuckDBEngineAPI`` (``engine_duckdb.py``): statements on a cursor, Arrow rows
  registered on it with no copy;
- ``PostgresEngineAPI`` (``engine_postgres.py``): statements on psycopg, rows staged in
  a temporary table with ``COPY``;
- ``IbisEngineAPI`` (here): anything else (ClickHouse, Spark), through Ibis alone.

Statements are sqlglot trees rendered in the engine's dialect (``dialect.py``); the
engine modules are imported only when a warehouse of theirs is opened.

**Numbered tables.** ``events.load_seq`` must be unique and must become visible in
order: a durable consumer that has read up to N never looks below N again, so a batch
numbered below N that commits after the consumer read N would be skipped forever. So
whoever numbers new rows first takes the table's numbering lock and holds it until its
transaction commits (``_claim_numbers``): the next writer numbers after everything
committed before it. PostgreSQL takes a transaction-scoped advisory lock, which also
orders ``omni serve`` and ``omni worker``; DuckDB (one writing process per file) and the
Ibis engines take a lock shared by every connection to the database in this process
(``Sequences``), which also keeps the last number given, so DuckDB checks the newest
row group instead of scanning every event for its maximum.
"""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar, final

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from omnichannel.errors import OmniError, ValidationError, WarehouseError
from omnichannel.warehouse import dialect
from omnichannel.warehouse.conform import conform
from omnichannel.warehouse.replace import Replacement, swap_statements

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from omnichannel.warehouse.tables import TableSpec

# Tables whose new rows are numbered 1, 2, 3... in the order stored, on every path that
# appends them, so durable consumers can read "after N" (see consumers/runner.py).
SEQUENCES = {"events": "load_seq"}
# The column a numbered Arrow batch carries while staged: each row's place in the batch.
ORDINAL = "__omni_ordinal"

T = TypeVar("T")
# Told the name of each table once its new rows are written aside (progress).
WrittenAside = Callable[[str], None]


@dataclass(frozen=True)
class Appended:
    """What ``append_new`` did: rows written, rows whose key was stored already."""

    written: int
    # None when the rows were an expression in the engine (they were never counted).
    already: int | None
    # The rows written, as stored (``returning=True`` only).
    stored: pa.Table | None = None


class Session(Protocol):
    """One engine's statements, run together (inside the open transaction, if any)."""

    def stage(self, rows: pa.Table) -> str:
        """Make ``rows`` readable by the session's statements; returns the name to read."""

    def run(self, sql: str) -> int:
        """Run a statement; returns the rows it changed (0 when the engine does not say)."""

    def fetch(self, sql: str) -> pa.Table:
        """Run a statement that returns rows; returns them."""


class Sequences:
    """One database's numbering inside this process, shared by all its connections.

    ``held()`` is the lock held from numbering new rows until their transaction ends
    (re-entrant: a transaction numbers several batches); ``last`` is the last number
    given per table (a rolled-back batch leaves a gap, never a number given twice);
    ``waiting`` counts threads waiting for the lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._count = threading.Lock()
        self.waiting = 0
        self.last: dict[str, int] = {}

    @contextmanager
    def held(self) -> Iterator[None]:
        if not self._lock.acquire(blocking=False):
            with self._count:
                self.waiting += 1
            try:
                self._lock.acquire()
            finally:
                with self._count:
                    self.waiting -= 1
        try:
            yield
        finally:
            self._lock.release()


class EngineAPI(ABC):
    """The engine-specific half of a ``Warehouse``; its public methods are shared and final."""

    def __init__(self, con: BaseBackend, sequences: Sequences | None = None) -> None:
        self.con = con
        self.sequences = sequences if sequences is not None else Sequences()
        self.in_transaction = False
        # Locks to let go of once the open transaction has committed or rolled back.
        self._until_commit: ExitStack | None = None

    @property
    def name(self) -> str:
        return str(self.con.name)

    # -- filled in by each engine ------------------------------------------------------

    @abstractmethod
    def _session(self) -> AbstractContextManager[Session]:
        """Statements of one call, run in order, inside the open transaction if any."""

    @abstractmethod
    def _begin(self) -> AbstractContextManager[None]:
        """A transaction on this connection: committed on exit, rolled back on an error."""

    def _claim_numbers(
        self, session: Session, held: ExitStack, table: str, column: str
    ) -> int | None:
        """Take ``table``'s numbering lock until the rows commit (``held`` lets go of it
        then); returns the last number used, or None for the insert to read the maximum.

        Here (DuckDB): the process's lock, and the stored maximum read only from values
        at or above the last number this process gave. A transaction begun before
        another one's commit does not see its rows, so the number given (``last``)
        counts too: both together are above every number given or stored."""
        held.enter_context(self.sequences.held())
        given = self.sequences.last.get(table)
        sql = dialect.last_number_sql(self.name, table, column, given)
        found = self._checked(lambda: session.fetch(sql), f"number {table} rows", sql)
        stored = found.column(0)[0].as_py() if found.num_rows else None
        return max(given or 0, int(stored or 0))

    def _append_new(
        self,
        spec: TableSpec,
        source: pa.Table | ir.Table,
        key: Sequence[str],
        since: datetime | None,
        returning: bool,
    ) -> tuple[int, pa.Table | None]:
        """One ``INSERT ... SELECT ... WHERE NOT EXISTS`` statement (DuckDB, PostgreSQL)."""
        column = sequence_of(spec)
        columns = _source_columns(spec, source)
        ordinal = None
        if column is not None and isinstance(source, pa.Table):
            # Numbered in the rows' own order, whatever order the engine scans them in.
            ordinal = ORDINAL
            source = source.append_column(ORDINAL, pa.array(range(source.num_rows), pa.int64()))
        with self._held(numbered=column is not None) as held, self._session() as session:
            rows = self._source(session, spec, source)
            base = None
            if column is not None:
                base = self._claim_numbers(session, held, spec.name, column)
            sql = dialect.insert_new_sql(
                self.name,
                spec.name,
                columns=columns,
                source=rows,
                key=key,
                since=since,
                sequence=column,
                base=base,
                returning=returning,
                ordinal=ordinal,
            )
            stored = None
            if returning:
                stored = self._checked(lambda: session.fetch(sql), f"append to {spec.name}", sql)
                written = stored.num_rows
            else:
                written = self._checked(lambda: session.run(sql), f"append to {spec.name}", sql)
            if base is not None:
                self.sequences.last[spec.name] = base + written
            return written, stored

    # -- shared, final -----------------------------------------------------------------

    @final
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything run inside commits together or not at all; a nested block joins."""
        if self.in_transaction:
            yield
            return
        self.in_transaction = True
        try:
            # Closed after the commit (or rollback): a numbering lock taken inside is
            # held until the numbered rows are visible.
            with ExitStack() as held:
                self._until_commit = held
                with self._begin():
                    yield
        finally:
            self.in_transaction = False
            self._until_commit = None

    @final
    @contextmanager
    def _held(self, *, numbered: bool) -> Iterator[ExitStack]:
        """Where a call's locks go: the open transaction's (let go of after its commit),
        or the call's own, let go of when the call's statements are done."""
        if numbered and self._until_commit is not None:
            yield self._until_commit
            return
        with ExitStack() as held:
            yield held

    @final
    def execute(self, sql: str) -> int:
        """Run one statement; a backend error is re-raised with the statement."""
        with self._session() as session:
            return self._checked(lambda: session.run(sql), "run a statement", sql)

    @final
    def append_new(
        self,
        spec: TableSpec,
        rows: pa.Table | ir.Table,
        key: Sequence[str],
        *,
        since: datetime | None = None,
        returning: bool = False,
    ) -> Appended:
        """Append the rows whose ``key`` is not stored (with ``since``: among rows loaded
        since then); a sequenced table's new rows get the next numbers."""
        if isinstance(rows, pa.Table):
            if rows.num_rows == 0:
                return Appended(0, 0, rows if returning else None)
            written, stored = self._append_new(spec, rows, key, since, returning)
            return Appended(written, rows.num_rows - written, _conformed(spec, stored))
        # An expression gives the table's columns it has, cast to the table's types
        # where they differ; any other column is a helper of its computation, left out.
        given = rows.schema()
        rows = rows.select(
            *[
                rows[c] if given[c] == spec.schema[c] else rows[c].cast(spec.schema[c]).name(c)
                for c in spec.schema.names
                if c in given
            ]
        )
        if _in_memory(rows):
            # Rows that live in Python (memtables) reach the engine the way Arrow rows do.
            return self.append_new(
                spec, _conformed(spec, rows.to_pyarrow()), key, since=since, returning=returning
            )
        written, stored = self._append_new(spec, rows, key, since, returning)
        return Appended(written, None, _conformed(spec, stored))

    @final
    def delete_keys(self, spec: TableSpec, keys: pa.Table) -> None:
        """Delete the rows whose key columns (those of ``keys``) match one of ``keys``."""
        if keys.num_rows == 0:
            return
        with self._session() as session:
            staged = self._stage(session, spec, keys)
            for sql in dialect.delete_keys_sql(self.name, spec.name, staged, keys.column_names):
                self._checked(partial(session.run, sql), f"delete from {spec.name}", sql)

    @final
    def replace_tables(
        self, replacements: Sequence[Replacement], written: WrittenAside | None = None
    ) -> None:
        """Write every replacement aside, then swap them all in with one transaction.

        A reader sees every old table or every new one, never one empty or half-written
        (DuckDB and PostgreSQL keep DDL transactional; ClickHouse and Spark have no
        multi-statement transactions, so there the swap is quick statements in a row).
        """
        statements: list[str] = []
        for r in replacements:
            side = r.side_name
            try:
                self.con.drop_table(side, force=True)
                self.con.create_table(side, schema=r.schema)
                self.con.insert(side, r.typed_rows())
            except OmniError:
                raise
            except Exception as exc:
                raise WarehouseError(f"could not write {side} (the new {r.name}): {exc}") from exc
            statements += swap_statements(self.name, r)
            if written is not None:
                written(r.name)
        with self.transaction(), self._session() as session:
            for sql in statements:
                self._checked(partial(session.run, sql), "swap in new tables", sql)

    # -- helpers for the subclasses ----------------------------------------------------

    @final
    def _checked(self, step: Callable[[], T], action: str, sql: str) -> T:
        try:
            return step()
        except OmniError:
            raise
        except Exception as exc:
            raise WarehouseError(f"{self.name} could not {action}: {exc}\nSQL: {sql}") from exc

    @final
    def _stage(self, session: Session, spec: TableSpec, rows: pa.Table) -> str:
        try:
            return session.stage(rows)
        except OmniError:
            raise
        except Exception as exc:
            raise WarehouseError(
                f"{self.name} could not take {rows.num_rows} rows for {spec.name}: {exc}"
            ) from exc

    @final
    def _source(
        self, session: Session, spec: TableSpec, rows: pa.Table | ir.Table
    ) -> sge.Expression:
        """The rows as something a statement selects from: a staged table or a subquery."""
        if isinstance(rows, pa.Table):
            return sg.table(self._stage(session, spec, rows), quoted=True)
        query: sge.Select = self.con.compiler.to_sqlglot(rows)
        return query.subquery()


class IbisEngineAPI(EngineAPI):
    """Engines without the statements above (ClickHouse, Spark): Ibis expressions only."""

    def _begin(self) -> AbstractContextManager[None]:
        # No multi-statement transactions: the block's statements run one after another.
        return nullcontext()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = IbisSession(self.con)
        try:
            yield session
        finally:
            session.close()

    def _append_new(
        self,
        spec: TableSpec,
        source: pa.Table | ir.Table,
        key: Sequence[str],
        since: datetime | None,
        returning: bool,
    ) -> tuple[int, pa.Table | None]:
        candidates = ibis.memtable(source) if isinstance(source, pa.Table) else source
        stored = self.con.table(spec.name)
        if since is not None:
            stored = stored.filter(stored.loaded_at >= since)
        column = sequence_of(spec)
        # No transactions here: the process's lock orders this process's writers only.
        with self._held(numbered=column is not None) as held:
            if column is not None:
                held.enter_context(self.sequences.held())
            try:
                if key:
                    candidates = candidates.anti_join(stored, list(key))
                fresh = _conformed(spec, candidates.to_pyarrow())
                assert fresh is not None
                if column is not None and fresh.num_rows:
                    last = self.con.table(spec.name)[column].max().to_pyarrow().as_py() or 0
                    last = max(last, self.sequences.last.get(spec.name, 0))
                    numbers = pa.array(range(last + 1, last + 1 + fresh.num_rows), pa.int64())
                    fresh = fresh.set_column(fresh.schema.get_field_index(column), column, numbers)
                    self.sequences.last[spec.name] = last + fresh.num_rows
                if fresh.num_rows:
                    self.con.insert(spec.name, fresh)
            except OmniError:
                raise
            except Exception as exc:
                raise WarehouseError(f"{self.name} could not append to {spec.name}: {exc}") from exc
        return fresh.num_rows, fresh if returning else None


class IbisSession:
    def __init__(self, con: BaseBackend) -> None:
        self.con = con
        self.staged: list[str] = []

    def stage(self, rows: pa.Table) -> str:
        name = scratch_name()
        self.con.create_table(name, rows, temp=True)
        self.staged.append(name)
        return name

    def run(self, sql: str) -> int:
        dialect.execute(self.con, sql)
        return 0

    def fetch(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_pyarrow()

    def close(self) -> None:
        for name in self.staged:
            self.con.drop_table(name, force=True)


def engine_api(con: BaseBackend, sequences: Sequences | None = None) -> EngineAPI:
    """The API for ``con``'s engine; an engine's module is imported only when used."""
    if con.name == "duckdb":
        from omnichannel.warehouse.engine_duckdb import DuckDBEngineAPI

        return DuckDBEngineAPI(con, sequences)
    if con.name == "postgres":
        from omnichannel.warehouse.engine_postgres import PostgresEngineAPI

        return PostgresEngineAPI(con, sequences)
    if con.name == "pyspark":
        from omnichannel.warehouse.engine_spark import SparkEngineAPI

        return SparkEngineAPI(con, sequences)
    return IbisEngineAPI(con, sequences)


def scratch_name() -> str:
    return f"_omni_scratch_{uuid.uuid4().hex[:12]}"


def sequence_of(spec: TableSpec) -> str | None:
    column = SEQUENCES.get(spec.name)
    return column if column is not None and column in spec.schema.names else None


def _source_columns(spec: TableSpec, rows: pa.Table | ir.Table) -> list[str]:
    names = list(rows.column_names if isinstance(rows, pa.Table) else rows.columns)
    extra = sorted(set(names) - set(spec.schema.names))
    if extra:
        raise ValidationError(
            f"{spec.name} columns", extra, f"columns of {spec.name}: {', '.join(spec.schema.names)}"
        )
    return names


def _in_memory(expr: ir.Table) -> bool:
    return bool(expr.op().find(ops.InMemoryTable))


def _conformed(spec: TableSpec, rows: pa.Table | None) -> pa.Table | None:
    return None if rows is None else conform(spec, rows)
