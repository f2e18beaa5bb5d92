"""How a command finds the installation it works on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from omnichannel.errors import OmniError

if TYPE_CHECKING:
    from omnichannel.config import Settings


class NoInstallationError(OmniError):
    """A command that reads an installation was pointed at a home that holds none."""


def settings_of(ctx: typer.Context, *, needs_installation: bool = True) -> Settings:
    """The Settings the root callback built from ``--home`` and ``OMNI_*`` variables.

    Only commands that set an installation up (``init``, ``demo``, ``serve``,
    ``restore``) or read
    none (``settings``) pass ``needs_installation=False``; every other one refuses a
    home without a warehouse, so a typo in ``--home`` is reported instead of being
    answered from a new, empty installation.
    """
    from omnichannel.config import Settings, get_settings

    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):  # a command invoked without the root callback
        settings = get_settings()
    if needs_installation:
        require_installation(settings)
    return settings


def require_installation(settings: Settings) -> None:
    """Raise ``NoInstallationError`` unless the home's default DuckDB warehouse exists,
    the settings name another warehouse, or an ``omni serve`` runs on the home."""
    from omnichannel.server_runtime import read_runtime

    if settings.warehouse_url is not None:
        return  # an external warehouse: nothing in the home to check
    warehouse_file = settings.home / "omni.duckdb"
    if warehouse_file.exists():
        return
    if read_runtime(settings.home) is not None:
        # The server knows its warehouse (PostgreSQL, Spark): a shell without
        # OMNI_WAREHOUSE_URL still reaches it, since the command goes through the server.
        return
    home = settings.home.resolve()
    what = "does not exist" if not home.exists() else f"holds no warehouse ({warehouse_file.name})"
    raise NoInstallationError(
        f"no installation at --home {home}: the directory {what}. "
        f"Create one with `omni --home {home} init` (or `omni demo`), "
        "or point --home / OMNI_HOME at an existing installation."
    )
