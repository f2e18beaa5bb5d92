"""A real HTTP server receiving webhooks, which can also misbehave on purpose.

Paths decide what it does, so one server plays every receiver of a test:

- ``/ok/...``: 200, after checking the signature (401 when it does not verify);
- ``/fail/...``: 500 every time;
- ``/throttle/...``: 429 with ``Retry-After: <throttle_seconds>`` for the first
  ``throttle_times`` requests, then 200;
- ``/hang/...``: holds the request open until the test ends (a provider that hangs);
- ``/gone/...``: 410;
- ``/flaky/...``: 500 for the first ``flaky_times`` requests, then 200.

Every request is kept with its headers, body and whether its signature verified.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from omnichannel.channels.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature

SECRET = "test-webhook-secret-0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery(self) -> str | None:
        return self.headers.get(DELIVERY_HEADER.lower())


class WebhookReceiver:
    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.requests: list[Received] = []
        self.throttle_times = 1
        self.throttle_seconds = 1
        self.flaky_times = 2
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def received(self, prefix: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def release(self) -> None:
        """Let held (``/hang/``) requests go."""
        self._release.set()

    def _answer(self, path: str, verified: bool) -> tuple[int, dict[str, str]]:
        kind = path.strip("/").split("/", 1)[0]
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            count = self._counts[kind]
        if kind == "hang":
            self._release.wait(60)
            return 503, {}
        if kind == "fail" or (kind == "flaky" and count <= self.flaky_times):
            return 500, {}
        if kind == "throttle" and count <= self.throttle_times:
            return 429, {"Retry-After": str(self.throttle_seconds)}
        if kind == "gone":
            return 410, {}
        return (200 if verified else 401), {"X-Request-Id": f"r-{count}"}

    @contextmanager
    def running(self) -> Iterator[WebhookReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = verify_signature(
                    receiver.secret, headers.get(SIGNATURE_HEADER.lower()), body
                )
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, headers, body, verified, time.monotonic())
                    )
                status, extra = receiver._answer(self.path, verified)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._release.set()
            self._server.shutdown()
            self._server.server_close()
            thread.join(5)
