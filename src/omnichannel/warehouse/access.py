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

**Requests first.** A server opens its warehouse with ``background_nice`` (``omni
serve`` uses ``BACKGROUND_NICE``): analytic work then runs below the request threads
in the operating system's scheduler, so a scan of every event takes the cores only
while no lookup wants them. DuckDB's worker pool is created by the thread that opens
the database and inherits its priority, so the database is opened on a thread whose
nice value is raised; a thread calling DuckDB also executes its own query's tasks, so a
lookup's point read stays at the request's priority. ``analytic(work)`` runs declared
analytic work (``POST /v1/warehouse/query``) on a small pool of such threads. DuckDB's
``threads`` setting is per database instance, not per connection (``SET threads`` on one
cursor changes every cursor's), so it cannot cap one query's share; priorities can.

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
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from omnichannel.warehouse import backends

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from omnichannel.warehouse.store import Warehouse

log = logging.getLogger(__name__)
T = TypeVar("T")

# How far below the request threads a server's analytic work runs: a nice increment
# (CFS gives a nice-10 thread about a tenth of a nice-0 one's share when both want a
# core). Unprivileged threads may raise their nice value but never lower it back, which
# is why analytic work gets threads of its own instead of borrowing request threads.
BACKGROUND_NICE = 10
# Analytic statements running at once; more wait their turn (each can use every core).
ANALYTIC_THREADS = 2


def lower_thread_priority(increment: int) -> None:
    """Raise this thread's nice value by ``increment`` (Linux; elsewhere nothing happens)."""
    if increment <= 0 or not hasattr(os, "setpriority"):
        return
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(current + increment, 19))
    except OSError as exc:  # e.g. macOS, where a thread id is not a process id
        log.debug("could not lower the priority of thread %s: %s", thread, exc)


def _on_lowered_thread(increment: int, work: Callable[[], T]) -> T:
    """Run ``work`` on a new thread of lower priority (threads it starts inherit that)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        lower_thread_priority(increment)
        try:
            outcome["value"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="warehouse-open")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


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

    def __init__(self, root: Warehouse, *, background_nice: int = 0) -> None:
        self._root = root
        self.background_nice = background_nice
        self._analytic_pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._opened: list[BaseBackend] = []
        self._opened_lock = threading.Lock()
        self._gate = SharedExclusiveLock()
        self._write_lock = threading.RLock()
        self._closed = False

    @classmethod
    def open(cls, url: str, *, background_nice: int = 0) -> WarehouseAccess:
        """Open the warehouse once (creating or upgrading its schema), ready for threads.

        ``background_nice`` > 0 (a server): DuckDB's worker threads and ``analytic`` work
        run that much below the threads that open readers (see "Requests first")."""
        from omnichannel.warehouse.store import Warehouse

        if background_nice > 0 and backends.engine_of(url) == "duckdb":
            root = _on_lowered_thread(background_nice, lambda: Warehouse.open(url))
        else:
            root = Warehouse.open(url)
        return cls(root, background_nice=background_nice)

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
            wh = Warehouse(
                con, self._root.url, self._root.schema_report, sequences=self._root.sequences
            )
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

    def analytic(self, work: Callable[[Warehouse], T]) -> T:
        """``work(reader)`` for a query that may scan everything; returns what it returns.

        With ``background_nice`` it runs on a low-priority thread of its own (at most
        ``ANALYTIC_THREADS`` at once) while the caller waits; otherwise on the caller's.
        """
        if self.background_nice <= 0:
            with self.reader() as wh:
                return work(wh)
        with self._opened_lock:
            if self._closed:
                raise RuntimeError("the warehouse was closed")
            if self._analytic_pool is None:
                self._analytic_pool = ThreadPoolExecutor(
                    ANALYTIC_THREADS,
                    thread_name_prefix="warehouse-analytic",
                    initializer=lower_thread_priority,
                    initargs=(self.background_nice,),
                )
            pool = self._analytic_pool
        return pool.submit(self._read_with, work).result()

    def _read_with(self, work: Callable[[Warehouse], T]) -> T:
        with self.reader() as wh:
            return work(wh)

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
            pool, self._analytic_pool = self._analytic_pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for con in opened:
            # A cursor of a database closed under it is closed already.
            with contextlib.suppress(Exception):
                con.disconnect()
        self._root.close()
