"""Durable consumers miss nothing: not after a raise, not after kill -9 before the checkpoint."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.consumers import Checkpoints, ConsumerRunner, FunctionConsumer
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.warehouse.access import WarehouseAccess


def _events(first: int, count: int) -> pa.Table:
    seqs = list(range(first, first + count))
    return pa.table(
        {
            "message_id": [f"m{s}" for s in seqs],
            "type": ["track"] * count,
            "event": ["Product Viewed"] * count,
            "load_seq": pa.array(seqs, pa.int64()),
        }
    )


@pytest.fixture
def access(warehouse_url: str) -> Iterator[WarehouseAccess]:
    opened = WarehouseAccess.open(warehouse_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def checkpoints(opstore_url: str) -> Iterator[Checkpoints]:
    store: OpStore = open_opstore(opstore_url)
    try:
        yield Checkpoints(store)
    finally:
        store.close()


def test_a_consumer_reads_every_event_once_in_order_and_resumes_after_its_checkpoint(
    access: WarehouseAccess, checkpoints: Checkpoints
) -> None:
    seen: list[str] = []
    consumer = FunctionConsumer(
        "segments", lambda b: seen.extend(b.column("message_id").to_pylist()), "beginning"
    )
    with access.writer() as wh:
        wh.append("events", _events(1, 25))
    runner = ConsumerRunner(access, checkpoints, [consumer], batch_size=10)
    assert runner.catch_up() == 25
    assert seen == [f"m{i}" for i in range(1, 26)]
    assert checkpoints.get("segments") == 25
    with access.writer() as wh:
        wh.append("events", _events(26, 3))
    again = ConsumerRunner(access, checkpoints, [consumer], batch_size=10)  # a restart
    assert again.lag("segments") == 3
    assert again.catch_up() == 3
    assert seen[-3:] == ["m26", "m27", "m28"] and len(seen) == 28


def test_a_new_consumer_that_starts_at_the_end_skips_history(
    access: WarehouseAccess, checkpoints: Checkpoints
) -> None:
    with access.writer() as wh:
        wh.append("events", _events(1, 5))
    seen: list[str] = []
    consumer = FunctionConsumer(
        "journeys", lambda b: seen.extend(b.column("message_id").to_pylist())
    )
    runner = ConsumerRunner(access, checkpoints, [consumer])
    assert runner.catch_up() == 0
    with access.writer() as wh:
        wh.append("events", _events(6, 2))
    assert runner.catch_up() == 2 and seen == ["m6", "m7"]


def test_consumers_at_one_position_share_one_read_until_a_wake_announces_more(
    access: WarehouseAccess, checkpoints: Checkpoints
) -> None:
    # Six consumers wake on every stored batch and ask for the same rows: one read serves
    # them all. A wake means newer events are stored, so a read from before it must not
    # be handed out after it (the consumer would wait an interval for the rest).
    handed: dict[str, list[pa.Table]] = {"segments": [], "journeys": []}
    consumers = [
        FunctionConsumer(name, handed[name].append, "beginning")
        for name in ("segments", "journeys")
    ]
    segments, journeys = consumers
    with access.writer() as wh:
        wh.append("events", _events(1, 5))
    runner = ConsumerRunner(access, checkpoints, consumers, batch_size=100)
    assert runner.step(segments) == 5 and runner.step(journeys) == 5
    assert handed["journeys"][0] is handed["segments"][0]  # the same read
    with access.writer() as wh:
        wh.append("events", _events(6, 5))
    assert runner.step(segments) == 5  # m6..m10
    with access.writer() as wh:
        wh.append("events", _events(11, 3))
    runner.wake()  # the stream announces m11..m13
    assert runner.step(journeys) == 8
    ids = handed["journeys"][-1].column("message_id").to_pylist()
    assert ids == [f"m{i}" for i in range(6, 14)]


def test_a_consumer_that_raises_gets_the_same_events_again(
    access: WarehouseAccess, checkpoints: Checkpoints
) -> None:
    with access.writer() as wh:
        wh.append("events", _events(1, 4))
    attempts: list[list[str]] = []

    def flaky(batch: pa.Table) -> None:
        attempts.append(batch.column("message_id").to_pylist())
        if len(attempts) == 1:
            raise RuntimeError("segment store unavailable")

    runner = ConsumerRunner(
        access, checkpoints, [FunctionConsumer("flaky", flaky, "beginning")], interval=0.05
    )
    runner.start()
    try:
        state = runner.state["flaky"]
        assert state.idle.wait(30)
    finally:
        runner.stop()
    assert attempts[0] == attempts[1] == ["m1", "m2", "m3", "m4"]
    assert checkpoints.get("flaky") == 4
    assert runner.state["flaky"].failures == 1


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from omnichannel.consumers import Checkpoints, ConsumerRunner, FunctionConsumer
    from omnichannel.opstore import open_opstore
    from omnichannel.warehouse.access import WarehouseAccess

    warehouse_url, opstore_url, out, kill = sys.argv[1:5]

    def handle(batch):
        with open(out, "a") as f:
            for message_id in batch.column("message_id").to_pylist():
                f.write(message_id + "\\n")
            f.flush()
            os.fsync(f.fileno())
        if kill == "kill":
            os.kill(os.getpid(), signal.SIGKILL)  # after acting, before the checkpoint

    access = WarehouseAccess.open(warehouse_url)
    runner = ConsumerRunner(access, Checkpoints(open_opstore(opstore_url)),
                            [FunctionConsumer("journeys", handle, "beginning")], batch_size=4)
    runner.catch_up()
    access.close()
    """
)


def test_kill_9_between_acting_and_the_checkpoint_replays_and_misses_nothing(
    tmp_path: Path,
) -> None:
    warehouse_url = f"duckdb:///{tmp_path / 'omni.duckdb'}"
    opstore_url = f"sqlite:///{tmp_path / 'opstore.sqlite'}"
    access = WarehouseAccess.open(warehouse_url)
    with access.writer() as wh:
        wh.append("events", _events(1, 10))
    access.close()  # the child owns the DuckDB file now, as a restarted server would
    out = tmp_path / "handled.txt"
    child = [sys.executable, "-c", CHILD, warehouse_url, opstore_url, str(out)]
    killed = subprocess.run([*child, "kill"], check=False)
    assert killed.returncode == -signal.SIGKILL
    assert out.read_text().split() == ["m1", "m2", "m3", "m4"]  # acted, then died
    subprocess.run([*child, "resume"], check=True)
    handled = out.read_text().split()
    # At least once: the first batch comes again, nothing is missing, order is kept.
    assert handled == ["m1", "m2", "m3", "m4", *[f"m{i}" for i in range(1, 11)]]
    store = open_opstore(opstore_url)
    assert Checkpoints(store).get("journeys") == 10
    store.close()
