"""What a server request pays for the GIL beside a busy thread, by switch interval.

A request gives the GIL up at each DuckDB call and each hand-off between the event
loop and its worker thread; each time it waits up to ``sys.getswitchinterval()`` for a
thread doing Python work (the loader decoding a batch, the collector parsing one) to
give it back. This times a request-like sequence (six point reads on a DuckDB cursor)
beside one thread decoding JSON without pause, at Python's default 5 ms (the baseline)
and at ``omni serve``'s ``SWITCH_INTERVAL``, in rounds that alternate, in one process.

    .venv/bin/python benchmarks/gil_switch.py
    .venv/bin/python benchmarks/gil_switch.py --requests 500 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from omnichannel.api.services import SWITCH_INTERVAL

DEFAULT = 0.005
HANDOFFS = 6


def busy(stop: threading.Event) -> None:
    body = json.dumps([{"userId": f"u{i}", "event": "Product Viewed"} for i in range(200)])
    while not stop.is_set():
        json.loads(body)


def requests(con: duckdb.DuckDBPyConnection, count: int) -> list[float]:
    cursor = con.cursor()
    times = []
    for _ in range(count):
        began = time.perf_counter()
        for _ in range(HANDOFFS):
            cursor.execute("SELECT s FROM t WHERE i = 42").fetchone()
        times.append(time.perf_counter() - began)
        time.sleep(0.002)  # requests arrive, they do not queue
    return times


def timed(con: duckdb.DuckDBPyConnection, interval: float, count: int) -> list[float]:
    sys.setswitchinterval(interval)
    stop = threading.Event()
    thread = threading.Thread(target=busy, args=(stop,))
    thread.start()
    try:
        return requests(con, count)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(DEFAULT)


def line(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{label:<34} p50 {statistics.median(ordered) * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="Per round and interval.")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i, 'x' || i AS s FROM range(100000) r(i)")
    alone = requests(con, args.requests)
    results: dict[float, list[float]] = {DEFAULT: [], SWITCH_INTERVAL: []}
    for _ in range(args.rounds):
        for interval in results:
            results[interval] += timed(con, interval, args.requests)
    print(f"load average {os.getloadavg()[0]:.1f}; {HANDOFFS} DuckDB point reads per request")
    print(line("alone", alone))
    for interval, samples in results.items():
        print(line(f"beside a busy thread, {interval * 1000:g} ms", samples))
    base = statistics.median(results[DEFAULT])
    ratio = statistics.median(results[SWITCH_INTERVAL]) / base
    shown = f"{SWITCH_INTERVAL * 1000:g} ms / {DEFAULT * 1000:g} ms (baseline)"
    print(f"ratio p50 {shown}: {ratio:.2f}")


if __name__ == "__main__":
    main()
