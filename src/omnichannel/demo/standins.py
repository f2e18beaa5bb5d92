"""Local stand-ins the demo's journeys send to: an SMTP sink and the API server, in-process.

The demo sends its journey messages through the real email adapter (aiosmtplib, a real
SMTP conversation) to :class:`SmtpSink`, an aiosmtpd server on 127.0.0.1 that accepts
every message and keeps it, as a mailbox would; simulated recipients then read what
arrived. :func:`api_server` serves the product's own API app (``create_app``) under
Uvicorn on a free port, so the recipients' opens and clicks go through the real
tracking routes (``/t/o``, ``/t/c``) and the collector's durable log, as in ``omni serve``.

Both run only for the demo's run: afterwards ``channels.yaml`` still names the sink's
port, where nothing listens (``docs/demo.md`` says how to point it at a real server).
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from omnichannel.errors import OmniError

if TYPE_CHECKING:
    from omnichannel.config import Settings
    from omnichannel.platform import Platform

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Mail:
    """One message the sink accepted: the envelope and the parsed message."""

    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def outbox_id(self) -> int | None:
        value = self.message.get("X-Omni-Outbox-Id")
        return int(value) if value and str(value).isdigit() else None

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return str(part.get_content()) if part is not None else ""


@dataclass
class _Handler:
    """aiosmtpd's handler: accept every recipient, keep every message."""

    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.mails.append(Mail(envelope.mail_from, tuple(envelope.rcpt_tos), parsed))
            n = len(self.mails)
        return f"250 2.0.0 queued as demo-{n}"


class SmtpSink:
    """A running SMTP sink: ``host``, ``port``, ``take()`` the messages not yet read."""

    def __init__(self, handler: _Handler, port: int) -> None:
        self.host = HOST
        self.port = port
        self._handler = handler
        self._read = 0

    @property
    def received(self) -> int:
        with self._handler.lock:
            return len(self._handler.mails)

    def take(self) -> list[Mail]:
        """Messages that arrived since the last call, in arrival order."""
        with self._handler.lock:
            new = self._handler.mails[self._read :]
            self._read = len(self._handler.mails)
        return new


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """An aiosmtpd server on a free port of 127.0.0.1, stopped on leaving."""
    from aiosmtpd.controller import Controller

    handler = _Handler()
    port = free_port()
    controller = Controller(handler, hostname=HOST, port=port, ready_timeout=30)
    controller.start()
    try:
        yield SmtpSink(handler, port)
    finally:
        controller.stop()


@dataclass
class ApiServer:
    """The product's API app served from this process, and the platform it runs on."""

    url: str
    platform: Platform
    services: Any

    def settle_ingest(self, timeout: float = 120.0) -> None:
        """Wait until the collector's log is stored in the warehouse (the loader's lag is 0)."""
        runtime = self.services.ingest
        if runtime is None:
            return
        deadline = time.monotonic() + timeout
        while runtime.log.pending_bytes() > 0:
            if time.monotonic() > deadline:
                raise OmniError(
                    f"the demo's events were not stored within {timeout:.0f} s "
                    f"({runtime.log.pending_bytes()} bytes still waiting in the event log)"
                )
            time.sleep(0.02)


@contextmanager
def api_server(settings: Settings, port: int) -> Iterator[ApiServer]:
    """``create_app`` under Uvicorn on ``port`` of 127.0.0.1 (lifespan on: the collector's
    log and loader run; no jobs, consumers or journey thread: the demo drives those)."""
    import uvicorn

    from omnichannel.api.app import create_app

    app = create_app(settings)
    services = app.state.services
    config = uvicorn.Config(
        app, host=HOST, port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="demo-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise OmniError(f"the demo's API server did not start on {HOST}:{port}")
        time.sleep(0.02)
    try:
        yield ApiServer(f"http://{HOST}:{port}", services.platform, services)
    finally:
        server.should_exit = True
        thread.join(60)  # the lifespan's end stores what the log holds and closes both stores
