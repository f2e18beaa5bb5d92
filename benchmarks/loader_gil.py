"""How long the loader's Arrow conversion keeps a request thread from the GIL.

``pa.Table.from_pylist`` holds the GIL for the whole call: a request thread that wants
it meanwhile waits until the call returns. The loader converts each micro-batch of log
rows in chunks of ``ARROW_CHUNK_ROWS`` so a waiting thread gets the GIL back between
chunks. This converts one micro-batch of collector rows (made by the collector's own
parser) as one call (the baseline, as before) and in chunks, in alternating rounds in
one process, while a "request" thread asks for the GIL every 0.5 ms; it prints how late
that thread woke (p50, p99, max) and the conversion time, each with the ratio.

    .venv/bin/python benchmarks/loader_gil.py
    .venv/bin/python benchmarks/loader_gil.py --rows 20000 --rounds 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from omnichannel.api.services import SWITCH_INTERVAL
from omnichannel.ingest.loader import ARROW_CHUNK_ROWS, _rows_table, encode_record
from omnichannel.ingest.segment import Limits, parse_calls
from omnichannel.warehouse.tables import EVENTS

TICK = 0.0005


def log_rows(count: int) -> list[dict[str, object]]:
    calls = [
        {
            "type": "track",
            "userId": f"u{i}",
            "event": "Product Viewed",
            "messageId": f"m{i}",
            "properties": {"sku": f"sku-{i % 500}", "price": 19.99},
            "context": {"page": {"url": "https://shop.example/p"}, "locale": "zh-CN"},
        }
        for i in range(count)
    ]
    parsed = parse_calls(
        {"batch": calls},
        source="web",
        received_at=datetime(2026, 12, 1),
        limits=Limits(),
        path_type=None,
    )
    # As the loader reads them: a log record, decoded.
    record = encode_record(source="web", origin="bench", events=parsed.rows, dead_letters=[])
    rows: list[dict[str, object]] = orjson.loads(record)["events"]
    return rows


def lateness_while(rows: list[dict[str, object]], chunk: int) -> tuple[list[float], float]:
    """How late each tick of a waiting thread woke while ``_rows_table`` ran; its seconds."""
    late: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            began = time.perf_counter()
            time.sleep(TICK)
            late.append(time.perf_counter() - began - TICK)

    thread = threading.Thread(target=ticker)
    thread.start()
    time.sleep(0.01)
    start = time.perf_counter()
    _rows_table(rows, EVENTS.schema.to_pyarrow(), chunk=chunk)
    seconds = time.perf_counter() - start
    stop.set()
    thread.join()
    return late, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="log rows in the batch")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    sys.setswitchinterval(SWITCH_INTERVAL)  # as in omni serve
    rows = log_rows(args.rows)
    ways = {"one call (before)": len(rows) + 1, f"chunks of {ARROW_CHUNK_ROWS}": ARROW_CHUNK_ROWS}
    late: dict[str, list[float]] = {w: [] for w in ways}
    took: dict[str, list[float]] = {w: [] for w in ways}
    for _ in range(args.rounds):
        for way, chunk in ways.items():
            ticks, seconds = lateness_while(rows, chunk)
            late[way] += ticks
            took[way].append(seconds)
    print(
        f"{args.rows:,} log rows, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f} "
        f"({os.cpu_count()} cores), switch interval {SWITCH_INTERVAL * 1000:g} ms"
    )
    figures = {}
    for way in ways:
        ticks = sorted(late[way])
        p50 = statistics.median(ticks)
        p99 = ticks[int(0.99 * (len(ticks) - 1))]
        figures[way] = (p50, p99, ticks[-1], statistics.median(took[way]))
        print(
            f"  {way:<20} a waiting thread woke late by p50 {p50 * 1000:6.2f} ms, "
            f"p99 {p99 * 1000:7.2f} ms, max {ticks[-1] * 1000:7.2f} ms; "
            f"conversion {figures[way][3] * 1000:6.1f} ms"
        )
    base, new = figures["one call (before)"], figures[f"chunks of {ARROW_CHUNK_ROWS}"]
    print(
        f"chunks / one call: max lateness {new[2] / base[2]:.2f}x, p99 {new[1] / base[1]:.2f}x, "
        f"conversion time {new[3] / base[3]:.2f}x"
    )


if __name__ == "__main__":
    main()
