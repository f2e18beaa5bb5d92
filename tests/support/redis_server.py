"""A private redis-server for the bus tests (Debian's package; the test command installs it).

Started on a free port in its own directory with the persistence the bus requires
(``appendonly yes``, ``appendfsync always``), so tests never touch a server a user runs;
``kill()`` is a SIGKILL and ``start()`` again replays the same AOF.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


class RedisUnavailable(RuntimeError):
    """No redis-server here; the message says why, for the skip reason."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, directory: Path, *, fsync: str = "always") -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable(
                "redis-server is not installed (scripts/ensure-test-services.sh installs "
                "Debian's redis-server when run as root)"
            )
        self.binary = binary
        self.directory = directory
        self.fsync = fsync
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.directory), "--save", "", "--daemonize", "no"]
        command += ["--appendonly", "yes", "--appendfsync", self.fsync]
        with open(self.directory / "redis.log", "ab") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30  # a wait for the start, not a speed claim
        while True:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except redis.ConnectionError:
                pass
            except redis.BusyLoadingError:
                pass  # replaying the AOF
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log").read_text(errors="replace")
                raise RedisUnavailable(f"redis-server did not start:\n{log}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: whatever Redis acknowledged must be in its fsync'd AOF."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@contextmanager
def redis_server(directory: Path, *, fsync: str = "always") -> Iterator[RedisServer]:
    server = RedisServer(directory, fsync=fsync)
    server.start()
    try:
        yield server
    finally:
        server.kill()
