"""A real HTTP server receiving webhooks, which can also misbehave on purpose.

Paths decide what it does, so one server plays every receiver of a test:

- ``/ok/...``: 200, after checking the signature (401 when it does not verify);
- ``/fail/...``: 500 every time;
- ``/throttle/...``: 429 with ``Retry-After: <throttle_seconds>`` for the first
  ``throttle_times`` requests, then 200;
- ``/hang/...``: holds the request open until ``release()`` or the end of the test (a
  provider that hangs);
- ``/gone/...``: 410;
- ``/flaky/...``: 500 for the first ``flaky_times`` requests, then 200.

Every webhook is kept with its headers, body, whether its signature verified and when
it came. The server is the stand-ins' own (``http_standin.StandIn``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from omnichannel.channels.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature
from tests.channels.servers.http_standin import Answer, Request, StandIn

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


class WebhookReceiver(StandIn):
    def __init__(self, secret: str = SECRET) -> None:
        super().__init__()
        self.secret = secret
        self.webhooks: list[Received] = []
        self.throttle_times = 1
        self.throttle_seconds = 1
        self.flaky_times = 2
        self._counts: dict[str, int] = {}

    def received(self, prefix: str = "") -> list[Received]:  # type: ignore[override]
        """The webhooks whose path starts with ``prefix``, in the order they came."""
        with self._lock:
            return [r for r in self.webhooks if r.path.startswith(prefix)]

    def release(self) -> None:
        """Let held (``/hang/``) requests go."""
        self._release.set()

    def handle(self, request: Request) -> Answer:
        verified = verify_signature(
            self.secret, request.headers.get(SIGNATURE_HEADER.lower()), request.body
        )
        kind = request.path.strip("/").split("/", 1)[0]
        with self._lock:
            self.webhooks.append(
                Received(request.path, request.headers, request.body, verified, time.monotonic())
            )
            self._counts[kind] = count = self._counts.get(kind, 0) + 1
        status, extra = self._answer(kind, count, verified)
        return Answer(status, b"{}", extra)

    def _answer(self, kind: str, count: int, verified: bool) -> tuple[int, dict[str, str]]:
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
