"""``Warehouse.upsert`` is one transaction: readers never see a replaced record missing,
and a failure part-way leaves the current table and ``record_history`` as they were.

The upsert calls ``after_step`` between its statements; the tests read from another
thread's connection there (through ``WarehouseAccess``, as the Profile API does), so the
interleaving is fixed by order, not by timing.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.access import WarehouseAccess

KEYS = 2_000


def _records(last_name: str, month: int) -> pa.Table:
    return pa.table(
        {
            "source": ["crm"] * KEYS,
            "record_id": [f"r{i:05d}" for i in range(KEYS)],
            "last_name": [last_name] * KEYS,
            "updated_at": [dt.datetime(2024, month, 1)] * KEYS,
        }
    )


def _on_another_thread(access: WarehouseAccess, read: Callable[[Any], Any]) -> Any:
    """Run ``read`` with another thread's reader connection and wait for its answer."""
    answer: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with access.reader() as wh:
                answer.append(read(wh))
        except BaseException as exc:  # handed back to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return answer[0]


def _snapshot(wh: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    current = wh.table("customer_records").select("record_id", "last_name").to_pyarrow()
    history = wh.table("record_history").select("table_name", "record_key", "reason").to_pyarrow()
    return (
        sorted((r["record_id"], r["last_name"]) for r in current.to_pylist()),
        sorted((h["table_name"], h["record_key"], h["reason"]) for h in history.to_pylist()),
    )


def test_a_reader_never_sees_a_replaced_record_missing(warehouse_url: str) -> None:
    access = WarehouseAccess.open(warehouse_url)
    try:
        with access.writer() as wh:
            wh.upsert("customer_records", _records("Lee", 2), version="updated_at")
        seen: dict[str, int] = {}

        def count_records(step: str) -> None:
            seen[step] = _on_another_thread(
                access, lambda r: int(r.table("customer_records").count().to_pyarrow().as_py())
            )

        with access.writer() as wh:
            result = wh.upsert(
                "customer_records",
                _records("Wu", 5),
                version="updated_at",
                after_step=count_records,
            )
        after = _on_another_thread(access, _snapshot)
    finally:
        access.close()
    assert result.updated == KEYS
    # Every step between the upsert's statements was observed, and at each the
    # reader saw every record (the old version until the commit).
    assert seen == {
        "superseded_to_history": KEYS,
        "superseded_deleted": KEYS,
        "current_appended": KEYS,
    }
    assert {name for _, name in after[0]} == {"Wu"}
    assert len(after[0]) == KEYS
    assert len(after[1]) == KEYS


@pytest.mark.parametrize(
    "failing_step", ["superseded_to_history", "superseded_deleted", "current_appended"]
)
def test_a_failure_part_way_leaves_records_and_history_as_they_were(
    warehouse_url: str, failing_step: str
) -> None:
    access = WarehouseAccess.open(warehouse_url)
    try:
        with access.writer() as wh:
            wh.upsert("customer_records", _records("Lee", 2), version="updated_at")
            wh.upsert("customer_records", _records("Wu", 5), version="updated_at")
            before = _snapshot(wh)

            def crash(step: str) -> None:
                if step == failing_step:
                    raise RuntimeError(f"crashed after {step}")

            with pytest.raises(RuntimeError, match=f"crashed after {failing_step}"):
                wh.upsert(
                    "customer_records", _records("Kim", 9), version="updated_at", after_step=crash
                )
            # The same connection, and a reader on another thread, both see the table
            # and its history exactly as before the failed upsert.
            assert _snapshot(wh) == before
            assert _on_another_thread(access, _snapshot) == before
            # The warehouse still takes the upsert afterwards.
            retried = wh.upsert("customer_records", _records("Kim", 9), version="updated_at")
            after = _snapshot(wh)
    finally:
        access.close()
    assert len(before[0]) == KEYS and len(before[1]) == KEYS
    assert retried.updated == KEYS
    assert {name for _, name in after[0]} == {"Kim"}
    assert len(after[1]) == 2 * KEYS


_KILLED_MID_UPSERT = """
import os, signal, sys
import datetime as dt
import pyarrow as pa
from omnichannel.warehouse import Warehouse

keys = int(sys.argv[2])
rows = pa.table({
    "source": ["crm"] * keys,
    "record_id": [f"r{i:05d}" for i in range(keys)],
    "last_name": ["Kim"] * keys,
    "updated_at": [dt.datetime(2024, 9, 1)] * keys,
})

def die(step):
    if step == "superseded_deleted":
        os.kill(os.getpid(), signal.SIGKILL)

wh = Warehouse.open(sys.argv[1])
wh.upsert("customer_records", rows, version="updated_at", after_step=die)
"""


def test_a_process_killed_mid_upsert_loses_no_current_record(
    warehouse_url: str, tmp_path: Path
) -> None:
    with Warehouse.open(warehouse_url) as wh:
        wh.upsert("customer_records", _records("Lee", 2), version="updated_at")
        before = _snapshot(wh)
    script = tmp_path / "killed_mid_upsert.py"
    script.write_text(_KILLED_MID_UPSERT)
    killed = subprocess.run(
        [sys.executable, str(script), warehouse_url, str(KEYS)], capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with Warehouse.open(warehouse_url) as wh:
        after = _snapshot(wh)
    assert after == before
