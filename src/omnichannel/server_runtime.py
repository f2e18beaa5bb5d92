"""The runtime file: how a CLI command finds the ``omni serve`` that owns its home.

On the embedded default the server is the one process that may open the DuckDB file,
so while it runs, CLI commands on the same home go through its API. At startup the
server writes ``<home>/server.json`` (its pid, address and a local admin token made for
this run), readable only by its owner (0600); at shutdown it removes it. A file left
by a server that died (kill -9) names a pid that is gone, and is ignored and removed.

The file also holds a digest of each ``OMNI_*`` variable the server started with. A
command that goes through the server runs with the server's settings, so a variable set
only in the CLI's shell (``OMNI_RETENTION=... omni jobs run retention``, a partner salt)
would silently not be used; ``differing_environment`` names those, and the client says
so before the command runs.

Example::

    runtime = read_runtime(settings.home)
    if runtime is not None:
        print(f"omni serve (pid {runtime.pid}) is at {runtime.url}")
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from omnichannel.errors import ConfigError

RUNTIME_FILE_NAME = "server.json"
# Settings a CLI command uses itself beside a server, not through it: which home, its own
# log output, and where it would serve (the runtime file gives the server's address).
CLIENT_SIDE = frozenset(
    {"OMNI_HOME", "OMNI_LOG_LEVEL", "OMNI_LOG_FORMAT", "OMNI_HOST", "OMNI_PORT"}
)


@dataclass(frozen=True)
class ServerRuntime:
    """What a running server tells the CLI about itself."""

    pid: int
    url: str
    token: str
    version: str
    started_at: str
    # OMNI_* variable -> digest of its value; None from a server that predates it.
    environment: dict[str, str] | None = None

    def describe(self) -> str:
        return f"omni serve (pid {self.pid}, {self.url})"


def environment_digest(environ: Mapping[str, str]) -> dict[str, str]:
    """Each ``OMNI_*`` variable of ``environ`` that a server acts on, by a digest of its
    value: enough to tell a differing value, without the file holding the secrets some
    of them are (a partner salt, the PII master key)."""
    return {
        name: hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        for name, value in sorted(environ.items())
        if name.startswith("OMNI_") and name not in CLIENT_SIDE
    }


def differing_environment(runtime: ServerRuntime, environ: Mapping[str, str]) -> list[str]:
    """The ``OMNI_*`` variables set in ``environ`` that the server runs without or with
    another value (a variable only the server has is its own setting, not a surprise)."""
    if runtime.environment is None:
        return []
    return [
        name
        for name, digest in environment_digest(environ).items()
        if runtime.environment.get(name) != digest
    ]


def runtime_path(home: Path) -> Path:
    return home / RUNTIME_FILE_NAME


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (signal 0 checks without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def write_runtime(home: Path, *, url: str, token: str, version: str) -> ServerRuntime:
    """Write this process's runtime file atomically, readable by its owner only."""
    runtime = ServerRuntime(
        pid=os.getpid(),
        url=url,
        token=token,
        version=version,
        started_at=datetime.now(UTC).isoformat(),
        environment=environment_digest(os.environ),
    )
    home.mkdir(parents=True, exist_ok=True)
    target = runtime_path(home)
    scratch = target.with_name(f".{target.name}.{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(runtime), out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(scratch, target)
    return runtime


def read_runtime(home: Path) -> ServerRuntime | None:
    """The live server of this home, or None (a stale file is removed)."""
    path = runtime_path(home)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        raise ConfigError(
            f"{path} belongs to another user: run this command as the user running omni serve"
        ) from exc
    try:
        runtime = ServerRuntime(**json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a runtime file written by omni serve ({exc}); "
            "stop the server and delete the file"
        ) from exc
    if not pid_alive(runtime.pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    return runtime


def remove_runtime(home: Path) -> None:
    """Remove the runtime file if this process wrote it."""
    path = runtime_path(home)
    try:
        runtime = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return
    if runtime.get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
