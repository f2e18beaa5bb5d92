"""Collector throughput: events/s acknowledged over HTTP and p99 ack latency.

Starts `omni serve` on 127.0.0.1 (a fresh home), then a load-generator process sends
batches of 100 events (encoded before the clock starts) with httpx from a few threads.
The ceiling, measured in this process, is the same work without HTTP: validate the same
batches and append them to an event log (group commit, fsync) from as many threads.
Each client concurrency runs against the same server, one after the other.
Run: ``python benchmarks/collector_http.py [--batches 600 --threads 2,4,8]``.
"""

from __future__ import annotations

import argparse
import json
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


def batch(worker: int, number: int, run: str = "") -> dict[str, object]:
    return {
        "batch": [
            {
                "type": "track",
                "userId": f"u{(number * BATCH + i) % 5000}",
                "event": "Product Viewed",
                "messageId": f"{run}w{worker}-{number}-{i}",
                "properties": {"product_id": f"p{i}", "price": 19.9, "currency": "CNY"},
                "context": {"ip": "10.0.0.1", "library": {"name": "analytics-python"}},
                "timestamp": datetime.now(UTC).isoformat(),
            }
            for i in range(BATCH)
        ]
    }


def bodies(run: str, worker: int, count: int) -> list[bytes]:
    """Request bodies encoded up front, so the generator spends its CPU on sending."""
    return [json.dumps(batch(worker, number, run)).encode() for number in range(count)]


def _client(url: str, key: str, payloads: list[bytes], out: list[float]) -> None:
    import httpx

    headers = {"Content-Type": "application/json"}
    with httpx.Client(timeout=30, auth=(key, "")) as client:
        for body in payloads:
            started = time.perf_counter()
            response = client.post(f"{url}/v1/batch", content=body, headers=headers)
            out.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text


def load_generator(url: str, key: str, threads: int, batches: int, run: str, queue: object) -> None:
    latencies: list[float] = []
    per = batches // threads
    payloads = [bodies(run, w, per) for w in range(threads)]
    workers = [
        threading.Thread(target=_client, args=(url, key, payloads[w], latencies))
        for w in range(threads)
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
    parser.add_argument("--batches", type=int, default=600)
    parser.add_argument(
        "--threads", default="2,4,8", help="client concurrencies to try, e.g. 2,4,8"
    )
    args = parser.parse_args()
    concurrencies = [int(n) for n in args.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        key = make_source(home, "bench")
        results = []
        with running_server(home) as server:
            for threads in concurrencies:
                queue: multiprocessing.Queue[tuple[float, list[float]]] = multiprocessing.Queue()
                generator = multiprocessing.Process(
                    target=load_generator,
                    args=(server.url, key, threads, args.batches, f"c{threads}-", queue),
                )
                generator.start()
                elapsed, latencies = queue.get(timeout=600)
                generator.join()
                results.append((threads, elapsed, latencies))
        bases = {
            threads: ceiling(Path(tmp) / f"ceiling-log-{threads}", threads, args.batches)
            for threads in concurrencies
        }
    print(f"batches of {BATCH} events, {args.batches} batches per run")
    for threads, elapsed, latencies in results:
        events = (args.batches // threads) * threads * BATCH
        p99 = statistics.quantiles(latencies, n=100)[98] * 1000
        p50 = statistics.median(latencies) * 1000
        base = bases[threads]
        print(
            f"{threads} client threads: HTTP collector, acknowledged {events / elapsed:>8,.0f} "
            f"events/s  p50 {p50:5.1f} ms  p99 {p99:5.1f} ms | ceiling (validate + log "
            f"append in-process) {events / base:>8,.0f} events/s, ratio {base / elapsed:.2f}"
        )
    print("target >= 10,000 events/s, p99 < 100 ms")


if __name__ == "__main__":
    main()
