"""PostgreSQL's half of the engine API: statements on psycopg, rows staged with COPY.

Each call's statements run in one psycopg transaction block (a savepoint inside
``transaction()``), so a failure part-way leaves nothing behind. In-memory rows reach
the server once, by ``COPY`` into a temporary table of the session (Ibis's own path is
one INSERT per row), and the statement that uses them runs in the server.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import ibis
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge

from omnichannel.warehouse.engine import EngineAPI, Session, scratch_name


def advisory_key(table: str, column: str) -> int:
    """The advisory lock that orders the numbering of ``table.column`` (a stable int)."""
    return zlib.crc32(f"omnichannel:{table}.{column}".encode())


class PostgresEngineAPI(EngineAPI):
    @property
    def raw(self) -> Any:
        return self.con.con

    def _claim_numbers(
        self, session: Session, held: ExitStack, table: str, column: str
    ) -> int | None:
        # Held by the server until this transaction ends, whichever process or
        # connection asks next (omni serve's loader, omni worker's segment events).
        # The insert is the next statement, so its snapshot, taken after the lock was
        # granted, sees every batch numbered before: it reads the maximum itself
        # (an index on the column makes that a lookup).
        session.run(f"SELECT pg_advisory_xact_lock({advisory_key(table, column)})")
        return None

    @contextmanager
    def _begin(self) -> Iterator[None]:
        # Inside, Ibis's own per-statement transactions become savepoints.
        with self.raw.transaction():
            yield

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self.raw.cursor() as cursor, self.raw.transaction():
            session = _PostgresSession(cursor)
            yield session
            for name in session.staged:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')


class _PostgresSession:
    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.staged: list[str] = []

    def stage(self, rows: pa.Table) -> str:
        name = scratch_name()
        schema = ibis.Schema.from_pyarrow(rows.schema)
        create = sge.Create(
            kind="TABLE",
            this=sge.Schema(
                this=sg.to_identifier(name, quoted=True),
                expressions=schema.to_sqlglot_column_defs("postgres"),
            ),
            properties=sge.Properties(expressions=[sge.TemporaryProperty()]),
        )
        self.cursor.execute(create.sql("postgres"))
        self.staged.append(name)
        columns = ", ".join(f'"{c}"' for c in rows.column_names)
        with self.cursor.copy(f'COPY "{name}" ({columns}) FROM STDIN') as copy:
            for row in zip(*(column.to_pylist() for column in rows.columns), strict=True):
                copy.write_row(row)
        return name

    def run(self, sql: str) -> int:
        self.cursor.execute(sql)
        return max(int(self.cursor.rowcount), 0)

    def fetch(self, sql: str) -> pa.Table:
        self.cursor.execute(sql)
        names = [d.name for d in self.cursor.description]
        columns = list(zip(*self.cursor.fetchall(), strict=True)) or [() for _ in names]
        return pa.table({n: pa.array(list(v)) for n, v in zip(names, columns, strict=True)})
