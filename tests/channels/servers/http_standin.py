"""A real HTTP server on an ephemeral port, for stand-ins of providers we cannot reach.

Each stand-in (Twilio, FCM, WeChat, the ad platforms) subclasses ``StandIn`` and answers
``handle(request)`` in its provider's wire shape; every request is kept in ``requests``
so a test can assert what reached the provider. The server runs in a thread of the test
process (``ThreadingHTTPServer``): adapters talk to it over real sockets, as they would
to the provider.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, status: int, value: Any, **headers: str) -> Answer:
        return cls(
            status, json.dumps(value).encode(), {"Content-Type": "application/json", **headers}
        )


class StandIn:
    """Base of a provider stand-in; ``start()`` it in a ``with`` block or a fixture."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        # Set to make the server hold every request open until cleared (a hung provider).
        self.hang = threading.Event()
        self._release = threading.Event()

    # --- what a subclass writes ---------------------------------------------------

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError

    # --- running ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def received(self, path_part: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path_part in r.path]

    @contextmanager
    def running(self) -> Iterator[StandIn]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    self.command,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with stand_in._lock:
                    stand_in.requests.append(request)
                if stand_in.hang.is_set():
                    stand_in._release.wait(30)
                answer = stand_in.handle(request)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
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
