"""Helpers of the SMS, push, WeChat and inbox tests: run an adapter against a stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from omnichannel.channels.adapter import AdapterContext, Delivery, SendOutcome
from omnichannel.opstore.models import MessageKind

PUBLIC = "https://omni.example"


def delivery(channel: str, address: str, content: Mapping[str, Any], **changes: Any) -> Delivery:
    values: dict[str, Any] = {
        "outbox_id": 1,
        "idempotency_key": "k-1",
        "channel": channel,
        "kind": MessageKind.MARKETING,
        "profile_id": "p_1",
        "address": address,
        "content": content,
        "attempt": 1,
    }
    values.update(changes)
    return Delivery(**values)


def context(**extra: Any) -> AdapterContext:
    return AdapterContext(public_base_url=PUBLIC, extra=extra)


def send_all(adapter: Any, deliveries: list[Delivery]) -> list[SendOutcome]:
    """Open the adapter, send each delivery in turn, close it: on one event loop."""

    async def run() -> list[SendOutcome]:
        await adapter.open()
        try:
            return [await adapter.send(d) for d in deliveries]
        finally:
            await adapter.close()

    return asyncio.run(run())


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with Uvicorn on an ephemeral port in this process; yields its URL.

    Real HTTP (a socket, Uvicorn's parser, the app's lifespan) without a subprocess.
    """
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def wait_for(check: Any, *, timeout: float = 30.0, what: str = "the condition") -> Any:
    """Poll ``check()`` until it returns something truthy (a deadline, not a timed assertion)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)
