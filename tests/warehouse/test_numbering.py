"""Event numbers are unique and become visible in order, with two writers at once.

A durable consumer reads ``load_seq`` after its checkpoint and never looks lower again,
so a batch numbered below what a consumer has read, committing after it read, would be
skipped forever; two batches given the same numbers would be read as one. The writers
here are two connections of their own (on PostgreSQL, what ``omni serve``'s loader and
``omni worker``'s segment events are), on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.consumers import Checkpoints, ConsumerRunner, FunctionConsumer
from omnichannel.opstore import open_opstore
from omnichannel.segments import membership
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.access import WarehouseAccess


def _batch(prefix: str, count: int) -> pa.Table:
    now = datetime.now(UTC).replace(tzinfo=None)
    return pa.table(
        {
            "message_id": [f"{prefix}-{i}" for i in range(count)],
            "type": ["track"] * count,
            "event": ["Product Viewed"] * count,
            "loaded_at": pa.array([now] * count, pa.timestamp("us")),
        }
    )


def _until(done: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Wait for a state another thread reaches (bounded, so a bug fails, not hangs)."""
    deadline = time.monotonic() + limit
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def _waits_for_numbering(wh: Warehouse) -> bool:
    """Whether some writer is waiting for the events' numbering lock."""
    if wh.engine == "postgres":
        rows = wh.con.sql(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        return int(rows.to_pyarrow().column("n")[0].as_py()) > 0
    return wh.sequences.waiting > 0


@pytest.fixture
def consumer_of(
    warehouse_url: str, tmp_path: Path
) -> Iterator[Callable[[list[str]], ConsumerRunner]]:
    access = WarehouseAccess.open(warehouse_url)
    store = open_opstore(f"sqlite:///{tmp_path / 'ops.sqlite'}")

    def make(seen: list[str]) -> ConsumerRunner:
        consumer = FunctionConsumer(
            "journeys", lambda b: seen.extend(b.column("message_id").to_pylist()), "beginning"
        )
        return ConsumerRunner(access, Checkpoints(store), [consumer], batch_size=4)

    try:
        yield make
    finally:
        store.close()
        access.close()


def _numbers(wh: Warehouse) -> list[tuple[int, str]]:
    events = wh.table("events")
    rows = events.select("load_seq", "message_id").order_by("load_seq").to_pyarrow()
    seqs, ids = rows.column("load_seq").to_pylist(), rows.column("message_id").to_pylist()
    return list(zip(seqs, ids, strict=True))


def _segment_events_by_hand(wh: Warehouse) -> None:
    wh.append_new("events", _batch("segment", 3), ("message_id",))


def _segment_events_from_a_refresh(wh: Warehouse) -> None:
    # What the segments job does: three people enter, three Segment Entered events.
    members = pa.table({"profile_id": ["p0", "p1", "p2"]})
    membership.apply(wh, "vip", members, now=datetime(2026, 12, 1), version=1)


@pytest.mark.parametrize(
    "first", [_segment_events_by_hand, _segment_events_from_a_refresh], ids=["append", "refresh"]
)
def test_a_batch_numbered_in_an_open_transaction_is_not_passed_by_another_writer(
    warehouse_url: str,
    consumer_of: Callable[[list[str]], ConsumerRunner],
    first: Callable[[Warehouse], None],
) -> None:
    seen: list[str] = []
    runner = consumer_of(seen)
    with Warehouse.open(warehouse_url) as segments, Warehouse.open(warehouse_url) as loader:
        wrote = threading.Event()
        with segments.transaction():
            # The segment job's events, numbered first, committed after more work.
            first(segments)
            other = threading.Thread(
                target=lambda: (
                    loader.append_new("events", _batch("loader", 3), ("message_id",)),
                    wrote.set(),
                )
            )
            other.start()
            _until(
                lambda: wrote.is_set() or _waits_for_numbering(segments),
                "the loader to store its batch or wait for the numbering lock",
            )
            runner.catch_up()  # a consumer reads while the segment job is still open
        other.join(60)
        assert wrote.is_set()
        runner.catch_up()
        numbers = _numbers(segments)
    # Six numbers, none given twice, in commit order; the consumer saw all six once.
    assert [n for n, _ in numbers] == [1, 2, 3, 4, 5, 6]
    assert [m for _, m in numbers][3:] == ["loader-0", "loader-1", "loader-2"]
    assert seen == [m for _, m in numbers]


def test_two_writers_at_once_and_a_running_consumer_see_every_event_once_in_order(
    warehouse_url: str, consumer_of: Callable[[list[str]], ConsumerRunner]
) -> None:
    seen: list[str] = []
    runner = consumer_of(seen)
    batches, size = 15, 3
    failures: list[BaseException] = []

    def write(name: str) -> None:
        try:
            with Warehouse.open(warehouse_url) as wh:
                for b in range(batches):
                    with wh.transaction():
                        wh.append_new("events", _batch(f"{name}{b}", size), ("message_id",))
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in ("serve", "worker")]
    runner.start()
    try:
        for w in writers:
            w.start()
        for w in writers:
            w.join(120)
        assert not failures, failures
        expected = 2 * batches * size
        _until(lambda: len(seen) >= expected, "the consumer to read every event")
    finally:
        runner.stop()
    with Warehouse.open(warehouse_url) as wh:
        numbers = _numbers(wh)
    assert [n for n, _ in numbers] == list(range(1, expected + 1))
    assert seen == [m for _, m in numbers]


@pytest.mark.postgres
def test_postgres_finds_a_batchs_duplicates_by_index(postgres_database: str) -> None:
    # Each micro-batch looks up its message ids among the last day's events; without an
    # index that is a scan of every stored event per batch, on every batch.
    url = postgres_database.replace("postgresql://", "postgres://", 1)
    with Warehouse.open(url) as wh:
        wh.append_new("events", _batch("a", 10), ("message_id",))
        wh.con.raw_sql("SET enable_seqscan = off").close()  # what a large table would do
        cursor = wh.con.raw_sql(
            "EXPLAIN SELECT 1 FROM events "
            "WHERE message_id = 'a-1' AND loaded_at >= now() - interval '1 day'"
        )
        plan = " ".join(str(row[0]) for row in cursor.fetchall())
        cursor.close()
    assert "omni_events_message_id" in plan, plan
