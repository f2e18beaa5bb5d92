"""Collector throughput: events/s acknowledged over HTTP and p99 ack latency.

Starts `omni serve` on 127.0.0.1 (a fresh home), then a load-generator process sends
batches of 100 events with httpx from several threads. The ceiling, measured in this
process, is the same work without HTTP: validate the same batches and append them to an
event log (group commit, fsync) from the same number of threads.
Run: ``python benchmarks/collector_http.py [--batches 400 --threads 8]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.collector import make_source, running_server

from omnichannel.ingest.loader import encode_record
from omnichannel.ingest.log import EventLog
from omnichannel.ingest.segment import Limits, parse_calls

BATCH = 100


def batch(worker: int, number: int) -> dict[str, object]:
    return {
        "batch": [
            {
                "type": "track",
                "userId": f"u{(number * BATCH + i) % 5000}",
                "event": "Product Viewed",
                "messageId": f"w{worker}-{number}-{i}",
                "properties": {"product_id": f"p{i}", "price": 19.9, "currency": "CNY"},
                "context": {"ip": "10.0.0.1", "library": {"name": "analytics-python"}},
                "timestamp": datetime.now(UTC).isoformat(),
            }
            for i in range(BATCH)
        ]
    }


def _client(url: str, key: str, worker: int, count: int, out: list[float]) -> None:
    import httpx

    with httpx.Client(timeout=30) as client:
        for number in range(count):
            body = batch(worker, number)
            started = time.perf_counter()
            response = client.post(f"{url}/v1/batch", json=body, auth=(key, ""))
            out.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text


def load_generator(url: str, key: str, threads: int, batches: int, queue: object) -> None:
    latencies: list[float] = []
    per = batches // threads
    workers = [
        threading.Thread(target=_client, args=(url, key, w, per, latencies)) for w in range(threads)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((time.perf_counter() - started, latencies))  # type: ignore[attr-defined]


def ceiling(directory: Path, threads: int, batches: int) -> float:
    limits = Limits()
    per = batches // threads
    with EventLog.open(directory) as log:

        def work(worker: int) -> None:
            for number in range(per):
                now = datetime.now(UTC).replace(tzinfo=None)
                parsed = parse_calls(
                    batch(worker, number),
                    source="bench",
                    received_at=now,
                    limits=limits,
                    path_type=None,
                )
                log.append(
                    encode_record(
                        source="bench", origin="bench", events=parsed.rows, dead_letters=[]
                    )
                )

        workers = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    events = (args.batches // args.threads) * args.threads * BATCH
    with tempfile.TemporaryDirectory() as tmp:
        base = ceiling(Path(tmp) / "ceiling-log", args.threads, args.batches)
        home = Path(tmp) / "home"
        key = make_source(home, "bench")
        with running_server(home) as server:
            queue: multiprocessing.Queue[tuple[float, list[float]]] = multiprocessing.Queue()
            generator = multiprocessing.Process(
                target=load_generator, args=(server.url, key, args.threads, args.batches, queue)
            )
            generator.start()
            elapsed, latencies = queue.get(timeout=600)
            generator.join()
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    p50 = statistics.median(latencies) * 1000
    print(f"{events:,} events in batches of {BATCH}, {args.threads} client threads")
    print(f"ceiling (validate + log append in-process): {events / base:>10,.0f} events/s")
    print(
        f"HTTP collector, acknowledged:               {events / elapsed:>10,.0f} events/s  "
        f"p50 {p50:.1f} ms  p99 {p99:.1f} ms"
    )
    print(f"ratio HTTP / ceiling: {base / elapsed:.2f} (target >= 10,000 events/s, p99 < 100 ms)")


if __name__ == "__main__":
    main()
