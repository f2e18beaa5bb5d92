"""Loader dedupe: one micro-batch's cost as ``events`` grows, with the dedupe window and without.

Fills a fresh DuckDB warehouse's ``events`` with rows stored two days ago (outside the
default one-day ``OMNI_DEDUPE_WINDOW``), then stores micro-batches of new calls with
``load_once`` (``Warehouse.append_new``: one INSERT ... WHERE NOT EXISTS), alternating the
window (the default) and no window (every stored messageId compared), at a small and a
large table. Prints the median batch time of each, the ratio without/with the window, and
large/small with the window (about 1.0 means the cost follows the batch, not the table).
It also times how a batch's first number is found, at each size: the writer's last number
checked against the newest values (``dialect.last_number_sql`` with ``at_least``, what
the loader runs) beside ``max(load_seq)`` over every event (what it ran before).
Run: ``python benchmarks/loader_dedupe.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from omnichannel.ingest.loader import DEDUPE_WINDOW, encode_record, load_once
from omnichannel.ingest.log import EventLog
from omnichannel.ingest.segment import Limits, parse_calls
from omnichannel.warehouse import dialect, open_warehouse

_ids = count()


def batch_record(size: int) -> bytes:
    now = datetime.now(UTC).replace(tzinfo=None)
    calls = [
        {"type": "track", "userId": f"u{n % 997}", "event": "Viewed", "messageId": f"new-{n}"}
        for n in (next(_ids) for _ in range(size))
    ]
    parsed = parse_calls(
        {"batch": calls}, source="bench", received_at=now, limits=Limits(), path_type=None
    )
    return encode_record(source="bench", origin="bench", events=parsed.rows, dead_letters=[])


def fill(wh: object, rows: int) -> None:
    """``rows`` events stored two days ago, in one statement inside DuckDB."""
    raw = wh.con.con  # type: ignore[attr-defined]
    raw.execute(
        "INSERT INTO events (message_id, type, user_id, event, source, loaded_at, load_seq) "
        "SELECT 'old-' || i, 'track', 'u' || (i % 50000), 'Viewed', 'bench', "
        "now()::TIMESTAMP - INTERVAL 2 DAY, i + 1 FROM range($n) t(i)",
        {"n": rows},
    )


def numbering(wh: object, rounds: int) -> dict[str, float]:
    """Seconds to find the last number: from the writer's last one, and by a full scan."""
    raw = wh.con.con  # type: ignore[attr-defined]
    last = int(raw.execute("SELECT max(load_seq) FROM events").fetchone()[0])
    ways = {
        "checked": dialect.last_number_sql("duckdb", "events", "load_seq", last),
        "scan": dialect.last_number_sql("duckdb", "events", "load_seq", None),
    }
    times: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(rounds):
        for way, sql in ways.items():
            started = time.perf_counter()
            assert raw.execute(sql).fetchone()[0] == last
            times[way].append(time.perf_counter() - started)
    return {way: statistics.median(values) for way, values in times.items()}


def measure(rows: int, batch: int, rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"window": [], "none": []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        EventLog.open(Path(tmp) / "log") as log,
        open_warehouse(f"duckdb:///{Path(tmp) / 'omni.duckdb'}") as wh,
    ):
        fill(wh, rows)
        for _ in range(rounds):
            for mode, window in (("window", DEDUPE_WINDOW), ("none", None)):
                log.submit(batch_record(batch)).result()
                started = time.perf_counter()
                done = load_once(log, wh, dedupe_window=window)
                times[mode].append(time.perf_counter() - started)
                assert done.events_stored == batch, done
        found = numbering(wh, rounds)
    return {**{mode: statistics.median(values) for mode, values in times.items()}, **found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=5_000_000)
    parser.add_argument("--batch", type=int, default=2_500)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    results = {n: measure(n, args.batch, args.rounds) for n in (args.small, args.large)}
    for n, r in results.items():
        ratio = r["none"] / r["window"]
        print(
            f"events {n:>10,}: batch of {args.batch:,} with the window {r['window'] * 1000:7.1f} ms"
            f", without {r['none'] * 1000:7.1f} ms (ratio without/with {ratio:.2f})"
        )
    for n, r in results.items():
        print(
            f"events {n:>10,}: the batch's first number from the writer's last one "
            f"{r['checked'] * 1000:6.2f} ms, by max(load_seq) over every event "
            f"{r['scan'] * 1000:6.2f} ms (ratio {r['checked'] / r['scan']:.2f})"
        )
    small, large = results[args.small]["window"], results[args.large]["window"]
    print(
        f"with the window, large/small table: {large / small:.2f}x "
        f"(without: {results[args.large]['none'] / results[args.small]['none']:.2f}x)"
    )


if __name__ == "__main__":
    main()
