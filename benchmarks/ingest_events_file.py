"""Events-file ingest: events/s through ``load_events_file`` against DuckDB's own read_json.

Generates a JSONL of Segment-spec calls (default 500,000), loads it into a fresh DuckDB
warehouse with validation, de-duplication and dead letters, and, in the same process,
loads the same file with plain ``CREATE TABLE AS SELECT * FROM read_json(...)`` (the
ceiling: no validation, no dedupe). Run: ``python benchmarks/ingest_events_file.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from omnichannel.ingest.events_file import load_events_file
from omnichannel.warehouse import open_warehouse

EVENTS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]


def generate(path: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    with open(path, "w") as out:
        for n in range(count):
            at = start + timedelta(seconds=n * 5)
            call = {
                "type": "track" if n % 10 else "page",
                "messageId": f"bench-{n}",
                "userId": f"u{rng.randrange(50_000)}",
                "anonymousId": f"a{rng.randrange(80_000)}",
                "event": rng.choice(EVENTS),
                "name": "Product",
                "properties": {
                    "product_id": f"p{rng.randrange(2_000)}",
                    "price": round(rng.uniform(5, 500), 2),
                    "currency": "CNY",
                },
                "context": {
                    "ip": f"10.0.{n % 250}.{n % 200}",
                    "locale": "zh-CN",
                    "library": {"name": "analytics.js", "version": "5.0"},
                    "page": {"url": f"https://shop.example/p/{n % 2000}"},
                    "campaign": {"name": "618", "source": "wechat"},
                },
                "timestamp": at.isoformat().replace("+00:00", "Z"),
                "sentAt": at.isoformat().replace("+00:00", "Z"),
                "receivedAt": (at + timedelta(seconds=1)).isoformat().replace("+00:00", "Z"),
            }
            out.write(json.dumps(call) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        generate(path, args.events)
        size_mb = path.stat().st_size / 1e6

        con = duckdb.connect(str(Path(tmp) / "baseline.duckdb"))
        started = time.perf_counter()
        con.execute(
            "CREATE TABLE raw AS SELECT * FROM read_json(?, format='newline_delimited')",
            [str(path)],
        )
        baseline = time.perf_counter() - started
        con.close()

        with open_warehouse(f"duckdb:///{Path(tmp) / 'omni.duckdb'}") as wh:
            started = time.perf_counter()
            result = load_events_file(wh, path, source="bench")
            ours = time.perf_counter() - started
            reload_started = time.perf_counter()
            again = load_events_file(wh, path, source="bench")
            reload = time.perf_counter() - reload_started
    assert result.events_stored == args.events and again.events_stored == 0
    print(f"file: {args.events:,} events, {size_mb:.0f} MB JSONL")
    print(
        f"duckdb read_json -> table (ceiling): {baseline:6.2f} s  "
        f"{args.events / baseline:>10,.0f} events/s"
    )
    print(
        f"load_events_file (validated):       {ours:6.2f} s  {args.events / ours:>10,.0f} events/s"
    )
    print(
        f"re-load of the same file (all dup):  {reload:6.2f} s  "
        f"{args.events / reload:>10,.0f} events/s"
    )
    print(
        f"ratio load_events_file / read_json: {baseline / ours:.2f}x of the ceiling "
        f"(target >= 100,000 events/s)"
    )


if __name__ == "__main__":
    main()
