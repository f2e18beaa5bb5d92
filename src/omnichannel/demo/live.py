"""The collector, run in-process for the demo's live day, and a Tracking API client for it.

The demo starts the real collector routes under Uvicorn on 127.0.0.1 (a free port), with
their own event log, and posts ``/v1/batch`` requests to it as Segment's libraries do:
HTTP Basic auth with the source's write key as user name, at most 500 KB a batch. The
collector validates, stamps ``received_at`` and acknowledges once the log is fsync'd;
the demo then drains the log into the warehouse with the loader's ``drain``.

The calls carry no ``sentAt``: they are a replay of a day that is already history, and
with ``sentAt`` the collector's clock-skew correction would move each event by the delay
between the business day and now. Without it, ``timestamp`` is kept as sent.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from omnichannel.api.collector_app import create_collector_app
from omnichannel.errors import OmniError
from omnichannel.ingest.loader import DrainResult, Loader, drain
from omnichannel.ingest.log import EventLog
from omnichannel.ingest.runtime import IngestRuntime
from omnichannel.ingest.segment import Limits
from omnichannel.ingest.sources import KeyResolver
from omnichannel.ingest.stream import InProcessStream
from omnichannel.opstore import OpStore
from omnichannel.warehouse import Warehouse

# Under Segment's 500 KB per batch, with room for the envelope.
BATCH_BYTES = 400 * 1024
SENDERS = 2
Report = Callable[[int], None]


@dataclass
class Sent:
    """What the collector answered: requests, calls acknowledged and calls it refused."""

    requests: int = 0
    accepted: int = 0
    refused: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, status: int, accepted: int, refused: int) -> None:
        self.requests += 1
        self.accepted += accepted
        self.refused += refused
        self.statuses[status] = self.statuses.get(status, 0) + 1


def batches(calls: list[str], limit: int = BATCH_BYTES) -> Iterator[tuple[bytes, int]]:
    """``{"batch": [...]}`` bodies of at most ``limit`` bytes and their call counts."""
    body: list[bytes] = []
    size = 0
    for call in calls:
        encoded = call.encode("utf-8")
        if body and size + len(encoded) + 1 > limit:
            yield b'{"batch":[' + b",".join(body) + b"]}", len(body)
            body, size = [], 0
        body.append(encoded)
        size += len(encoded) + 1
    if body:
        yield b'{"batch":[' + b",".join(body) + b"]}", len(body)


class LiveCollector:
    """A running collector: ``url``, ``send(write_key, calls)``, then ``drain_into(wh)``."""

    def __init__(self, runtime: IngestRuntime, server: uvicorn.Server, port: int) -> None:
        self.runtime = runtime
        self.server = server
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._lock = threading.Lock()

    def _post(
        self, connection: http.client.HTTPConnection, key: str, body: bytes, calls: int
    ) -> Sent:
        auth = base64.b64encode(f"{key}:".encode()).decode("ascii")
        connection.request(
            "POST",
            "/v1/batch",
            body=body,
            headers={
                "Authorization": f"Basic {auth}",
                "Content-Type": "application/json",
                "User-Agent": "omnichannel-demo",
            },
        )
        response = connection.getresponse()
        answer = json.loads(response.read() or b"{}")
        sent = Sent()
        if response.status == 200:
            sent.add(200, calls, 0)
        elif response.status == 400 and answer.get("code") == "invalid_events":
            sent.add(400, int(answer["accepted"]), len(answer["errors"]))
        else:
            raise OmniError(
                f"the demo's collector answered {response.status}: {answer.get('message')}"
            )
        return sent

    def _send_all(
        self, key: str, bodies: list[tuple[bytes, int]], total: Sent, report: Report | None
    ) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            for body, calls in bodies:
                sent = self._post(connection, key, body, calls)
                with self._lock:
                    for status, n in sent.statuses.items():
                        total.statuses[status] = total.statuses.get(status, 0) + n
                    total.requests += sent.requests
                    total.accepted += sent.accepted
                    total.refused += sent.refused
                    if report is not None:
                        report(total.accepted + total.refused)
        finally:
            connection.close()

    def send(self, calls_by_key: dict[str, list[str]], report: Report | None = None) -> Sent:
        """Post every source's calls with its write key, sources in parallel."""
        total = Sent()
        work = [(key, list(batches(calls))) for key, calls in calls_by_key.items() if calls]
        with ThreadPoolExecutor(max_workers=SENDERS) as pool:
            for future in [pool.submit(self._send_all, k, b, total, report) for k, b in work]:
                future.result()
        return total

    def drain_into(self, wh: Warehouse) -> DrainResult:
        return drain(self.runtime.log, wh)


@contextmanager
def live_collector(
    log_dir: Path, opstore: OpStore, wh: Warehouse, *, limits: Limits | None = None
) -> Iterator[LiveCollector]:
    """Start the collector on a free port of 127.0.0.1; stop it and close its log after."""
    event_log = EventLog.open(log_dir)

    @contextmanager
    def lease() -> Iterator[Warehouse]:
        yield wh

    # The demo drains explicitly once the day is sent, so the loader thread is not started.
    runtime = IngestRuntime(
        log=event_log,
        loader=Loader(event_log, lease, stream=None),
        keys=KeyResolver(opstore, ttl=60.0),
        stream=InProcessStream(),
        limits=limits or Limits(),
    )
    app = create_collector_app(runtime, title="Lotus & Pine collector (omni demo)")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="demo-collector", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise OmniError("the demo's collector did not start on 127.0.0.1")
            time.sleep(0.02)
        yield LiveCollector(runtime, server, port)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        event_log.close()
