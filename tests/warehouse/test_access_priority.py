"""A server's analytic work runs below its requests in the operating system's scheduler.

DuckDB's ``threads`` setting belongs to the database instance, so one query's share of
the cores cannot be capped; the priority of the threads that run it can. These tests
read each thread's nice value from the kernel (Linux only: elsewhere a thread's id is
not a process id and nothing is lowered).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.warehouse.access import WarehouseAccess

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's"
)

STORES = pa.table({"store_id": ["s1", "s2"], "name": ["Jing'an", "Xuhui"]})
LOWER = 3


def _nice(thread_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread_id)


def _threads() -> set[int]:
    return {int(task) for task in os.listdir("/proc/self/task")}


def _alive(threads: set[int]) -> dict[int, int]:
    """Nice value of each thread still running (the thread that opened DuckDB has ended)."""
    nices = {}
    for thread in threads:
        try:
            nices[thread] = _nice(thread)
        except ProcessLookupError:
            continue
    return nices


@pytest.fixture
def base() -> int:
    nice = _nice(threading.get_native_id())
    if nice + LOWER > 19:
        pytest.skip(f"this test runs at nice {nice}: no room to lower anything by {LOWER}")
    return nice


def test_duckdbs_workers_and_analytic_queries_run_lower_than_readers(
    tmp_path: Path, base: int
) -> None:
    before = _threads()
    access = WarehouseAccess.open(f"duckdb:///{tmp_path / 'omni.duckdb'}", background_nice=LOWER)
    try:
        python_threads = {t.native_id for t in threading.enumerate()}
        started = _alive(_threads() - before - python_threads)
        with access.writer() as wh:
            wh.append("stores", STORES)
            workers = int(wh.con.con.execute("SELECT current_setting('threads')").fetchone()[0])
        if workers > 1:  # DuckDB starts threads - 1 workers; the caller is the last one
            assert started, "DuckDB started no worker threads"
        assert started == dict.fromkeys(started, base + LOWER)

        with access.reader() as wh:  # a request's reader keeps the request's priority
            assert _nice(threading.get_native_id()) == base
            assert wh.table("stores").count().to_pyarrow().as_py() == 2

        def scan(wh: object) -> tuple[int, int]:
            table = wh.table("stores")  # type: ignore[attr-defined]
            return _nice(threading.get_native_id()), int(table.count().to_pyarrow().as_py())

        assert access.analytic(scan) == (base + LOWER, 2)
        assert _nice(threading.get_native_id()) == base  # the caller was not lowered
    finally:
        access.close()


def test_without_a_background_priority_analytic_work_runs_on_the_callers_thread(
    tmp_path: Path, base: int
) -> None:
    access = WarehouseAccess.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    try:
        ran_on = access.analytic(lambda wh: (threading.get_ident(), wh.table("stores").count()))
        assert ran_on[0] == threading.get_ident()
        assert _nice(threading.get_native_id()) == base
    finally:
        access.close()


def test_an_analytic_querys_error_reaches_the_caller(tmp_path: Path, base: int) -> None:
    access = WarehouseAccess.open(f"duckdb:///{tmp_path / 'omni.duckdb'}", background_nice=LOWER)
    try:
        with pytest.raises(Exception, match="no_such_table"):
            access.analytic(lambda wh: wh.con.sql("SELECT * FROM no_such_table").to_pyarrow())
        # The pool's thread is still there for the next query.
        assert access.analytic(lambda wh: wh.table("stores").count().to_pyarrow().as_py()) == 0
    finally:
        access.close()


def test_a_servers_loader_and_consumers_run_lower_than_its_requests(
    tmp_path: Path, base: int
) -> None:
    """Storing events and updating memberships may lag a batch; a lookup may not."""
    import time

    from fastapi.testclient import TestClient

    from omnichannel.api import create_app
    from omnichannel.config import Settings
    from omnichannel.warehouse.access import BACKGROUND_NICE

    if base + BACKGROUND_NICE > 19:
        pytest.skip(f"this test runs at nice {base}: no room for BACKGROUND_NICE")
    settings = Settings(home=tmp_path / "home", loader_interval=0.05)
    # serve=True is omni serve: it also runs the jobs and the durable consumers.
    with TestClient(create_app(settings, serve=True)) as client:
        assert client.get("/healthz").status_code == 200
        wanted = ("event-loader", "consumer-")
        deadline = time.monotonic() + 60  # the consumers start once the warehouse is open
        while True:
            background = {
                t.name: t.native_id
                for t in threading.enumerate()
                if t.name.startswith(wanted) and t.native_id is not None
            }
            started = any(name.startswith("consumer-") for name in background)
            lowered = _alive(set(background.values()))
            if started and set(lowered.values()) == {base + BACKGROUND_NICE}:
                break
            assert time.monotonic() < deadline, f"nice values by thread: {background}, {lowered}"
            time.sleep(0.05)
        assert "event-loader" in background
        assert _nice(threading.get_native_id()) == base  # the test's (a client's) thread
