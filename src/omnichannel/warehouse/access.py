"""Concurrent access to one open warehouse from the threads of one process.

The server runs requests on a thread pool, the loader on a thread of its own and jobs
on the scheduler's threads; an Ibis backend is one connection, not safe to share.
``WarehouseAccess`` gives each thread its own connection to the same warehouse:

- **readers** (``reader()``) run in parallel with each other and with the writer. On
  DuckDB each thread gets a cursor on the one database instance the process opened
  (DuckDB lets only one process open a file for writing), and every statement reads
  a consistent snapshot; on PostgreSQL, ClickHouse and Spark each thread gets a
  connection of its own.
- **the writer** (``writer()``) is one path at a time: appends from the loader and
  connectors take turns there instead of conflicting inside the engine.
- **exclusive work** (``exclusive()``) is declared, and it is the only thing that
  waits for readers to finish (a reset of every table, say). Derived tables are not
  exclusive work: they are built aside and swapped in one transaction, so readers
  see the old table or the new one, whole.

This follows Datasette's ``database.py``: one write path, per-thread read connections.

Example::

    access = WarehouseAccess.open("duckdb:///tmp/omni.duckdb")
    with access.reader() as wh:
        wh.table("orders").count().to_pyarrow()
    with access.writer() as wh:
        wh.append("stores", rows)
    access.close()
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from omnichannel.warehouse import backends

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from omnichannel.warehouse.store import Warehouse


class SharedExclusiveLock:
    """Many holders of the shared side at once, or one of the exclusive side.

    Re-entrant per thread on the shared side, so a reader that opens a nested reader
    never waits for an exclusive request queued between the two.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._exclusive_waiting = 0
        self._depth = threading.local()

    def _held(self) -> int:
        return int(getattr(self._depth, "n", 0))

    @contextmanager
    def shared(self) -> Iterator[None]:
        depth = self._held()
        if depth == 0:
            with self._cond:
                # New readers queue behind a waiting exclusive request, so it cannot starve.
                self._cond.wait_for(lambda: not self._exclusive and not self._exclusive_waiting)
                self._shared += 1
        self._depth.n = depth + 1
        try:
            yield
        finally:
            self._depth.n = depth
            if depth == 0:
                with self._cond:
                    self._shared -= 1
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        if self._held():
            raise RuntimeError("exclusive warehouse work requested while holding a reader")
        with self._cond:
            self._exclusive_waiting += 1
            try:
                self._cond.wait_for(lambda: not self._exclusive and self._shared == 0)
            finally:
                self._exclusive_waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class WarehouseAccess:
    """Per-thread readers, one writer path and declared exclusive work over one warehouse."""

    def __init__(self, root: Warehouse) -> None:
        self._root = root
        self._local = threading.local()
        self._opened: list[BaseBackend] = []
        self._opened_lock = threading.Lock()
        self._gate = SharedExclusiveLock()
        self._write_lock = threading.RLock()
        self._closed = False

    @classmethod
    def open(cls, url: str) -> WarehouseAccess:
        """Open the warehouse once (creating or upgrading its schema), ready for threads."""
        from omnichannel.warehouse.store import Warehouse

        return cls(Warehouse.open(url))

    @property
    def url(self) -> str:
        return self._root.url

    @property
    def engine(self) -> str:
        return self._root.engine

    def _thread_warehouse(self) -> Warehouse:
        wh: Warehouse | None = getattr(self._local, "warehouse", None)
        if wh is None:
            if self._closed:
                raise RuntimeError("the warehouse was closed")
            from omnichannel.warehouse.store import Warehouse

            con = self._connect()
            with self._opened_lock:
                self._opened.append(con)
            wh = Warehouse(con, self._root.url, self._root.schema_report)
            self._local.warehouse = wh
        return wh

    def _connect(self) -> BaseBackend:
        if self._root.engine == "duckdb":
            import ibis

            # A cursor is a new connection to the same database instance: its own
            # transaction and snapshot, safe to use beside other threads' cursors.
            cursor = self._root.con.con.cursor()
            cursor.execute("SET TimeZone = 'UTC'")
            return ibis.duckdb.from_connection(cursor)
        return backends.connect(self._root.url)

    @contextmanager
    def reader(self) -> Iterator[Warehouse]:
        """This thread's connection, for queries; runs beside other readers and the writer."""
        with self._gate.shared():
            yield self._thread_warehouse()

    @contextmanager
    def writer(self) -> Iterator[Warehouse]:
        """This thread's connection, holding the one write path (appends, swaps)."""
        with self._gate.shared(), self._write_lock:
            yield self._thread_warehouse()

    @contextmanager
    def exclusive(self) -> Iterator[Warehouse]:
        """The warehouse with no reader or writer at work: only for work declared exclusive."""
        with self._gate.exclusive(), self._write_lock:
            yield self._thread_warehouse()

    def interrupt_all(self) -> None:
        """Ask every running statement to stop (DuckDB), e.g. before a shutdown."""
        with self._opened_lock:
            opened = list(self._opened)
        for con in opened:
            raw = getattr(con, "con", None)
            if raw is not None and hasattr(raw, "interrupt"):
                raw.interrupt()

    def close(self) -> None:
        self._closed = True
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for con in opened:
            # A cursor of a database closed under it is closed already.
            with contextlib.suppress(Exception):
                con.disconnect()
        self._root.close()
