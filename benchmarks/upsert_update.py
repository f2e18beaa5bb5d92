"""Rows per second replacing stored records with newer versions through ``Warehouse.upsert``.

Stores ``--rows`` customer records in a fresh DuckDB warehouse, then upserts a newer
version of every one of them: each stored row moves to ``record_history`` and the new
one becomes current, all in one transaction. The baseline, run side by side on another
fresh warehouse in the same process, is the same ``upsert`` with its transaction
removed (each statement on its own cursor, as before it became atomic): the ratio is
what atomicity costs.

    .venv/bin/python benchmarks/upsert_update.py --rows 200000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.tables import RECORD_HISTORY

TABLE = "customer_records"


def _records(rows: int, last_name: str, month: int) -> pa.Table:
    return pa.table(
        {
            "source": pa.array(["crm"] * rows),
            "record_id": pa.array([f"r{i:08d}" for i in range(rows)]),
            "last_name": pa.array([last_name] * rows),
            "email": pa.array([f"p{i}@example.com" for i in range(rows)]),
            "updated_at": pa.array([datetime(2024, month, 1)] * rows),
        }
    )


class _Unguarded(Warehouse):
    """``Warehouse`` as it was before upserts became atomic: no transaction around them."""

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield


def _timed_update(kind: type[Warehouse], url: str, first: pa.Table, second: pa.Table) -> float:
    """Seconds ``kind.upsert`` takes to replace every record of ``first`` by ``second``."""
    with Warehouse.open(url) as opened:
        opened.upsert(TABLE, first, version="updated_at")
        wh = kind(opened.con, opened.url, opened.schema_report)
        start = time.perf_counter()
        result = wh.upsert(TABLE, second, version="updated_at", at=datetime(2025, 1, 1))
        seconds = time.perf_counter() - start
        assert result.updated == first.num_rows
        assert wh.counts()[TABLE] == first.num_rows
        assert wh.counts()[RECORD_HISTORY.name] == first.num_rows
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    first, second = _records(args.rows, "Lee", 2), _records(args.rows, "Wu", 5)
    timings: dict[str, list[float]] = {"baseline": [], "ours": []}
    with tempfile.TemporaryDirectory() as tmp:
        # Interleaved (baseline, ours, ours, baseline), best of two each, so neither
        # side gains from running second on a warmed-up machine.
        for run, (label, kind) in enumerate(
            [
                ("baseline", _Unguarded),
                ("ours", Warehouse),
                ("ours", Warehouse),
                ("baseline", _Unguarded),
            ]
        ):
            url = f"duckdb:///{Path(tmp) / f'{run}.duckdb'}"
            timings[label].append(_timed_update(kind, url, first, second))
    baseline, ours = min(timings["baseline"]), min(timings["ours"])
    print(f"{args.rows:,} stored records, each replaced by a newer version (best of 2 each)")
    print(f"no transaction (baseline):     {baseline:6.2f} s  {args.rows / baseline:10,.0f} rows/s")
    print(f"Warehouse.upsert, one transaction: {ours:6.2f} s  {args.rows / ours:10,.0f} rows/s")
    print(
        f"ratio baseline time / upsert time: {baseline / ours:.2f} (1.00 = atomicity costs nothing)"
    )


if __name__ == "__main__":
    main()
