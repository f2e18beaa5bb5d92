"""What several benchmarks share: an ``omni serve`` of a home, started and stopped around a run.

Example::

    from benchmarks.support import server   # or: from support import server

    with server(home, port=8765) as base:
        httpx.get(base + "/v1/...")
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def server(
    home: Path, port: int, *, ready: str = "/readyz", timeout: float = 300.0
) -> Iterator[str]:
    """``omni serve`` on ``home`` at ``port`` in a process of its own; yields its base URL
    once ``ready`` answers 200 (a big home takes a while to open), and stops it after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "omnichannel", "--home", str(home), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(base + ready, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"omni serve exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"omni serve did not answer {ready} within {timeout:.0f} s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=120)
