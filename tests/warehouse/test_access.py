"""Concurrent warehouse access: a lookup never waits for a long query or for the writer."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest

from omnichannel.warehouse.access import SharedExclusiveLock, WarehouseAccess

STORES = pa.table({"store_id": ["s1", "s2"], "name": ["Jing'an", "Xuhui"]})


def _block_inside_query(
    access: WarehouseAccess, entered: threading.Event, release: threading.Event
) -> list[tuple[object, ...]]:
    """Run a query that cannot finish until ``release`` is set (engine-specific blocker)."""
    with access.reader() as wh:
        if wh.engine == "duckdb":
            raw = wh.con.con

            def wait_for_release(x: int) -> int:
                entered.set()
                release.wait(30)
                return x

            raw.create_function("wait_for_release", wait_for_release, ["BIGINT"], "BIGINT")
            return raw.execute("SELECT max(wait_for_release(range)) FROM range(3)").fetchall()
        # PostgreSQL: wait on an advisory lock the test holds on its own connection.
        entered.set()
        return wh.con.raw_sql("SELECT pg_advisory_lock(4242)").fetchall()


def test_a_lookup_completes_while_a_long_query_is_still_running(warehouse_url: str) -> None:
    access = WarehouseAccess.open(warehouse_url)
    entered, release = threading.Event(), threading.Event()
    holder = None
    try:
        with access.writer() as wh:
            wh.append("stores", STORES)
        if access.engine == "postgres":
            holder = access._connect()
            holder.raw_sql("SELECT pg_advisory_lock(4242)").fetchall()
        with ThreadPoolExecutor(2) as pool:
            long_query = pool.submit(_block_inside_query, access, entered, release)
            assert entered.wait(30), "the long query never started"

            def lookup() -> int:
                with access.reader() as wh:
                    return int(wh.table("stores").count().to_pyarrow().as_py())

            looked_up = pool.submit(lookup)
            # The lookup finishes while the long query is provably still running: it
            # cannot end before `release` is set, which only happens after this.
            assert looked_up.result(timeout=30) == 2
            assert not long_query.done()
            release.set()
            if holder is not None:
                holder.raw_sql("SELECT pg_advisory_unlock(4242)").fetchall()
            long_query.result(timeout=30)
    finally:
        release.set()
        if holder is not None:
            holder.disconnect()
        access.close()


def test_readers_see_appends_of_the_writer_and_never_a_half_written_batch(tmp_path) -> None:
    access = WarehouseAccess.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    try:
        seen: list[int] = []

        def read_count() -> None:
            with access.reader() as wh:
                seen.append(int(wh.table("stores").count().to_pyarrow().as_py()))

        for batch in range(5):
            with access.writer() as wh:
                wh.append("stores", STORES)
            t = threading.Thread(target=read_count)
            t.start()
            t.join()
            assert seen[-1] == 2 * (batch + 1)
    finally:
        access.close()


def test_exclusive_work_waits_for_readers_and_holds_new_ones_back() -> None:
    lock = SharedExclusiveLock()
    order: list[str] = []
    reader_in, exclusive_queued = threading.Event(), threading.Event()
    release_reader = threading.Event()

    def first_reader() -> None:
        with lock.shared():
            order.append("reader-1 in")
            reader_in.set()
            release_reader.wait(10)
            order.append("reader-1 out")

    def exclusive() -> None:
        reader_in.wait(10)
        exclusive_queued.set()
        with lock.exclusive():
            order.append("exclusive")

    def late_reader() -> None:
        exclusive_queued.wait(10)
        # Give the exclusive request the chance to queue first.
        while not lock._exclusive_waiting:
            pass
        release_reader.set()
        with lock.shared():
            order.append("reader-2")

    threads = [threading.Thread(target=f) for f in (first_reader, exclusive, late_reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert order == ["reader-1 in", "reader-1 out", "exclusive", "reader-2"]


def test_a_nested_reader_does_not_deadlock_behind_a_queued_exclusive() -> None:
    lock = SharedExclusiveLock()
    done = threading.Event()

    def nested() -> None:
        with lock.shared():
            waiter = threading.Thread(target=lambda: lock.exclusive().__enter__())
            waiter.daemon = True
            waiter.start()
            while not lock._exclusive_waiting:
                pass
            with lock.shared():
                done.set()

    t = threading.Thread(target=nested, daemon=True)
    t.start()
    t.join(10)
    assert done.is_set()


def test_exclusive_inside_a_reader_is_refused() -> None:
    lock = SharedExclusiveLock()
    with lock.shared(), pytest.raises(RuntimeError, match="holding a reader"):
        lock.exclusive().__enter__()
