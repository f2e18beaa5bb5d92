"""Helpers for collector tests: a real `omni serve` subprocess and write keys."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from omnichannel.ingest.sources import create_source
from omnichannel.opstore import open_opstore
from omnichannel.opstore.admin_tokens import create_admin_token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_source(home: Path, name: str = "web", kind: str = "http") -> str:
    """Create a source in ``home``'s operational store; returns its write key."""
    home.mkdir(parents=True, exist_ok=True)
    with open_opstore(f"sqlite:///{home / 'opstore.sqlite'}") as store, store.session() as session:
        info = create_source(session, name=name, kind=kind, actor="test")
    assert info.write_key is not None
    return info.write_key


def make_admin_token(home: Path) -> str:
    """An active admin token in ``home``'s operational store (what ``omni init`` makes)."""
    home.mkdir(parents=True, exist_ok=True)
    with open_opstore(f"sqlite:///{home / 'opstore.sqlite'}") as store, store.session() as session:
        return create_admin_token(session, actor="test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final drain, no flush; a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM: Uvicorn's graceful shutdown (the loader drains the log)."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    home: Path, *, port: int | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> Server:
    port = port or free_port()
    log_path = home.parent / f"server-{port}-{time.monotonic_ns()}.log"
    environment = {
        **os.environ,
        "OMNI_HOME": str(home),
        "OMNI_LOADER_INTERVAL": "0.1",
        **(env or {}),
    }
    for name in ("OMNI_WAREHOUSE_URL", "OMNI_OPSTORE_URL"):
        if name not in (env or {}):  # the home's stores, unless the test names others
            environment.pop(name, None)
    with open(log_path, "wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "omnichannel",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    _homes[server.url] = home
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"omni serve did not start:\n{server.output()}")
        time.sleep(0.1)


@contextmanager
def running_server(home: Path, **kwargs: object) -> Iterator[Server]:
    server = start_server(home, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


# Each started server's home: its runtime file has the local admin token the stats need.
_homes: dict[str, Path] = {}


def server_token(url: str) -> str:
    """The local admin token of a server ``start_server`` started (from its runtime file)."""
    from omnichannel.server_runtime import read_runtime

    runtime = read_runtime(_homes[url])
    assert runtime is not None, f"no runtime file for the server at {url}"
    return runtime.token


def wait_until_loaded(url: str, expected_events: int, timeout: float = 120) -> dict[str, object]:
    """Poll the stats API until the loader has caught up with the log.

    The deadlines here and in ``start_server`` are waits for what must happen, not speed
    claims: generous, so a machine busy with other work (two xdist workers and more)
    does not fail them."""
    deadline = time.monotonic() + timeout
    while True:
        headers = bearer(server_token(url))
        stats = httpx.get(f"{url}/v1/events/stats", headers=headers, timeout=60).json()
        caught_up = stats["log"]["pending_bytes"] == 0
        if caught_up and stats["events"]["total"] >= expected_events:
            return stats  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"loader did not catch up: {stats}")
        time.sleep(0.1)
