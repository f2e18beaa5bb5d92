"""What several benchmarks share: an ``omni serve`` of a home, started and stopped around a
run, and the percentiles they print.

Example::

    from benchmarks.support import server   # or: from support import server

    with server(home, port=8765) as base:
        httpx.get(base + "/v1/...")
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx


@contextmanager
def server(
    home: Path,
    port: int,
    *,
    ready: str = "/readyz",
    timeout: float = 300.0,
    log: Path | None = None,
) -> Iterator[str]:
    """``omni serve`` on ``home`` at ``port`` in a process of its own; yields its base URL
    once ``ready`` answers 200 (a big home takes a while to open), and stops it after.
    With ``log``, the server's JSON log lines are kept there (what a run reads back from
    them, e.g. how long each of the journey trigger's batches took)."""
    with ExitStack() as stack:
        env = None
        stderr: Any = subprocess.DEVNULL
        if log is not None:
            env = {**os.environ, "OMNI_LOG_FORMAT": "json"}
            stderr = stack.enter_context(log.open("w"))
        command = [sys.executable, "-m", "omnichannel", "--home", str(home), "serve"]
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(process, base + ready, timeout)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=120)


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"omni serve exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"omni serve did not answer {url} within {timeout:.0f} s")
        time.sleep(0.2)


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` by rank (no interpolation: a p99 that was seen)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def ms(values: list[float]) -> str:
    """``p50 .. ms, p99 .. ms, max .. ms`` of latencies given in seconds."""
    if not values:
        return "none seen"
    return (
        f"p50 {statistics.median(values) * 1000:.0f} ms, "
        f"p99 {quantile(values, 0.99) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
    )
