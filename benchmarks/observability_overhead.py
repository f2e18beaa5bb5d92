"""What counting and logging cost: the collector's metrics call and one JSON log line.

1. The collector counts every request it answers (``Metrics.collector_answered``). Its
   cost is printed beside the baseline of the work the collector does anyway for the
   same request, parsing and validating a batch of 100 calls (``parse_calls``), so the
   ratio is the share of a request's CPU the counting adds. Also beside
   prometheus-client's usual ``Counter.labels(...).inc()``.
2. ``omni serve`` writes each log line as JSON with fields and credentials masked
   (``JsonFormatter``); the baseline is the standard library's ``logging.Formatter``
   with a plain text layout, side by side on the same records.

Rounds interleave candidate and baseline so a busy machine slows both alike.
Run: ``python benchmarks/observability_overhead.py [--rounds 7]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnichannel.ingest.segment import Limits, parse_calls
from omnichannel.logs import JsonFormatter
from omnichannel.metrics import Metrics


def _per_call(work: Callable[[], object], calls: int) -> float:
    began = time.perf_counter()
    for _ in range(calls):
        work()
    return (time.perf_counter() - began) / calls


def _rounds(candidate: Callable[[], float], baseline: Callable[[], float], rounds: int) -> tuple:
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(candidate())
        theirs.append(baseline())
    return statistics.median(ours), statistics.median(theirs)


def collector(rounds: int) -> None:
    metrics = Metrics()
    body = json.loads(
        json.dumps(
            {
                "batch": [
                    {
                        "type": "track",
                        "userId": f"u{i}",
                        "event": "Product Viewed",
                        "messageId": f"m{i}",
                        "properties": {"product_id": f"p{i}", "price": 19.9},
                        "timestamp": datetime.now(UTC).isoformat(),
                    }
                    for i in range(100)
                ]
            }
        )
    )
    received = datetime.now(UTC).replace(tzinfo=None)
    limits = Limits()

    def parse() -> object:
        return parse_calls(body, source="web", received_at=received, limits=limits, path_type=None)

    def count() -> None:
        metrics.collector_answered("/v1/batch", 200, 100, 0)

    plain = metrics.collector_calls

    def usual() -> None:
        plain.labels("/v1/batch", "accepted").inc(100)

    ours, parsing = _rounds(
        lambda: _per_call(count, 200_000), lambda: _per_call(parse, 300), rounds
    )
    _, labels = _rounds(lambda: 0.0, lambda: _per_call(usual, 200_000), rounds)
    print(
        f"collector metrics call: {ours * 1e9:,.0f} ns per request; parsing the same request's "
        f"100 calls: {parsing * 1e6:,.0f} us; ratio {ours / parsing:.5f} "
        f"({ours / parsing * 100:.3f} % of the parse)"
    )
    print(
        f"  prometheus-client's Counter.labels(...).inc(): {labels * 1e9:,.0f} ns "
        f"(ratio ours/theirs {ours / labels:.2f})"
    )


def log_lines(rounds: int) -> None:
    record = logging.LogRecord(
        "omnichannel.jobs.runner", logging.INFO, __file__, 1, "job finished", (), None
    )
    record.__dict__.update(
        {"job": "profiles", "run_id": 42, "trigger": "schedule", "seconds": 1.234, "rows": 9876}
    )
    ours = JsonFormatter()
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    json_line, text_line = _rounds(
        lambda: _per_call(lambda: ours.format(record), 50_000),
        lambda: _per_call(lambda: text.format(record), 50_000),
        rounds,
    )
    print(
        f"log line: JSON with fields and masking {json_line * 1e6:.2f} us; stdlib text "
        f"formatter {text_line * 1e6:.2f} us; ratio {json_line / text_line:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    collector(args.rounds)
    log_lines(args.rounds)


if __name__ == "__main__":
    main()
