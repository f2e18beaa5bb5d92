"""DuckDB's half of the engine API: statements on the connection, Arrow rows registered.

Statements run on this warehouse's own connection (one per thread, see ``access.py``),
so they see its temporary tables (Ibis's scratch tables live there) and join its open
transaction; Arrow rows are registered on it under a scratch name, a view with no copy,
and unregistered when the call is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from omnichannel.warehouse.engine import EngineAPI, Session, scratch_name


class DuckDBEngineAPI(EngineAPI):
    @property
    def raw(self) -> duckdb.DuckDBPyConnection:
        con: duckdb.DuckDBPyConnection = self.con.con
        return con

    @contextmanager
    def _begin(self) -> Iterator[None]:
        self.raw.begin()
        try:
            yield
        except BaseException:
            self.raw.rollback()
            raise
        self.raw.commit()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = _DuckDBSession(self.raw)
        try:
            yield session
        finally:
            for name in session.staged:
                self.raw.unregister(name)


class _DuckDBSession:
    def __init__(self, runner: duckdb.DuckDBPyConnection) -> None:
        self.runner = runner
        self.staged: list[str] = []

    def stage(self, rows: pa.Table) -> str:
        # A view over the Arrow table itself: no copy.
        name = scratch_name()
        self.runner.register(name, rows)
        self.staged.append(name)
        return name

    def run(self, sql: str) -> int:
        # INSERT and DELETE answer with one row, the count; DDL with none.
        row = self.runner.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def fetch(self, sql: str) -> pa.Table:
        return self.runner.execute(sql).to_arrow_table()
