"""Collector -> carrier -> loader throughput: the Redis Streams bus against the file log.

What a collector does per request (submit one record, wait until it is durable) from
several threads at once, while the server's ``Loader`` stores what arrives in a DuckDB
warehouse; a round ends when every event is stored. The carrier is the local event log
(fsync per group commit; the baseline) or ``RedisBus`` on a private ``redis-server``
(``--appendonly yes --appendfsync always``) on the same machine, in alternating rounds
in one process, each round on a fresh log or stream and a fresh warehouse. Prints, per
carrier, the acknowledged events/s (submit phase), the stored events/s (first submit to
last stored) and the ratio bus / log.

    .venv/bin/python benchmarks/bus_throughput.py
    .venv/bin/python benchmarks/bus_throughput.py --requests 2000 --events 100 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' redis-server

from tests.support.redis_server import redis_server

from omnichannel.ingest.bus_redis import RedisBus
from omnichannel.ingest.loader import Loader, encode_record
from omnichannel.ingest.log import EventLog
from omnichannel.ingest.segment import Limits, parse_calls
from omnichannel.warehouse import Warehouse, open_warehouse

NOW = datetime(2025, 6, 1, 12, 0, 0)


def records(requests: int, events: int) -> list[bytes]:
    """One collector record per request, made by the collector's own parser."""
    made = []
    for number in range(requests):
        calls = [
            {
                "type": "track",
                "userId": f"user-{i % 500}",
                "event": "Product Viewed",
                "messageId": f"r{number}-{i}",
                "properties": {"sku": f"SKU-{i % 97}", "price": 19.9},
            }
            for i in range(events)
        ]
        parsed = parse_calls(
            {"batch": calls}, source="web", received_at=NOW, limits=Limits(), path_type=None
        )
        made.append(
            encode_record(source="web", origin="bench", events=parsed.rows, dead_letters=[])
        )
    return made


def stored(wh: Warehouse) -> int:
    return int(wh.con.sql("SELECT count(*) AS n FROM events").to_pyarrow().column(0)[0].as_py())


def one_round(
    carrier: EventLog | RedisBus, payloads: list[bytes], threads: int, wh_path: Path
) -> tuple[float, float]:
    """(seconds until the last acknowledgement, seconds until the last event stored)."""
    expected = len(payloads) * payloads_events(payloads[0])
    lock = threading.Lock()
    with open_warehouse(f"duckdb:///{wh_path}") as wh:

        @contextlib.contextmanager
        def lease() -> Iterator[Warehouse]:
            with lock:
                yield wh

        loader = Loader(carrier, lease, stream=None, interval=0.1)
        loader.start()
        shares = [payloads[n::threads] for n in range(threads)]

        def send(share: list[bytes]) -> None:
            for payload in share:
                carrier.submit(payload).result(60)

        began = time.perf_counter()
        workers = [threading.Thread(target=send, args=(s,)) for s in shares]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        acknowledged = time.perf_counter() - began
        while loader.totals.events_stored < expected:
            time.sleep(0.005)
        done = time.perf_counter() - began
        loader.stop()
        with lock:
            assert stored(wh) == expected, (stored(wh), expected)
    return acknowledged, done


def payloads_events(payload: bytes) -> int:
    import orjson

    return len(orjson.loads(payload)["events"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50, help="events per request")
    parser.add_argument("--threads", type=int, default=8, help="concurrent requests")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    payloads = records(args.requests, args.events)
    total = args.requests * args.events
    print(
        f"{args.requests} requests x {args.events} events ({total:,} events, "
        f"{sum(map(len, payloads)) / 1e6:.1f} MB), {args.threads} threads, load {os.getloadavg()}"
    )
    results: dict[str, list[tuple[float, float]]] = {"log": [], "bus": []}
    with tempfile.TemporaryDirectory() as scratch, redis_server(Path(scratch) / "redis") as redis:
        for number in range(args.rounds):
            for name in ("log", "bus") if number % 2 == 0 else ("bus", "log"):
                base = Path(scratch) / f"{name}-{number}"
                opener: Callable[[], AbstractContextManager[EventLog | RedisBus]]
                if name == "log":
                    opener = lambda base=base: EventLog.open(base / "log")  # noqa: E731
                else:
                    opener = lambda base=base, n=number: RedisBus(  # noqa: E731
                        redis.url, directory=base / "log", stream=f"bench:{n}"
                    )
                with opener() as carrier:
                    ack, done = one_round(carrier, payloads, args.threads, base / "omni.duckdb")
                results[name].append((ack, done))
                print(
                    f"  round {number} {name}: acknowledged {total / ack:,.0f} events/s "
                    f"({args.requests / ack:,.0f} requests/s), stored {total / done:,.0f} "
                    f"events/s ({done:.2f} s), load {os.getloadavg()[0]:.1f}"
                )
    ack = {k: statistics.median(total / a for a, _ in v) for k, v in results.items()}
    done = {k: statistics.median(total / d for _, d in v) for k, v in results.items()}
    print(
        f"median acknowledged: log {ack['log']:,.0f} events/s, bus {ack['bus']:,.0f} events/s, "
        f"ratio bus/log {ack['bus'] / ack['log']:.2f}"
    )
    print(
        f"median stored end to end: log {done['log']:,.0f} events/s, bus {done['bus']:,.0f} "
        f"events/s, ratio bus/log {done['bus'] / done['log']:.2f}; load {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
