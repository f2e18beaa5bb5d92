"""Run a command on the installation itself, or through the ``omni serve`` that owns it.

On the embedded default a running server holds the DuckDB file, so a CLI command on
its home must ask the server. Each command gives both ways, the library call on a
local ``Platform`` and the HTTP call on a ``ServerClient``; both return the same data,
which the command prints the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from omnichannel.errors import OmniError

if TYPE_CHECKING:
    from omnichannel.client import ServerClient
    from omnichannel.config import Settings
    from omnichannel.platform import Platform

T = TypeVar("T")


class ServerOwnsHomeError(OmniError):
    """A command that cannot go through the server was run while the server owns the home."""


def refuse_while_served(settings: Settings, why: str) -> None:
    """For a command that cannot run through the server: refuse while one owns the home."""
    from omnichannel.server_runtime import read_runtime

    runtime = read_runtime(settings.home)
    if runtime is not None:
        raise ServerOwnsHomeError(
            f"{runtime.describe()} owns this home and this command cannot run through it "
            f"({why}): stop the server first (kill {runtime.pid}, or Ctrl-C where it runs), "
            "then run the command again"
        )


def on_installation(
    settings: Settings,
    *,
    local: Callable[[Platform], T],
    remote: Callable[[ServerClient], T] | None,
) -> T:
    """``remote(server)`` while ``omni serve`` owns this home, else ``local(platform)``.

    ``remote=None`` marks a command that cannot work through the server: the message
    names the server, its pid, and what to do.
    """
    from omnichannel.server_runtime import read_runtime

    runtime = read_runtime(settings.home)
    if runtime is not None:
        if remote is None:
            refuse_while_served(settings, "it needs the warehouse to itself")
            raise AssertionError("unreachable: refuse_while_served raised")
        from omnichannel.client import ServerClient

        with ServerClient(runtime) as server:
            return remote(server)
    from omnichannel.platform import Platform

    with Platform(settings) as platform:
        return local(platform)
