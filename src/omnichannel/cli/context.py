"""How a command finds the installation it works on."""

from __future__ import annotations

import typer

from omnichannel.config import Settings, get_settings


def settings_of(ctx: typer.Context) -> Settings:
    """The Settings the root callback built from ``--home`` and ``OMNI_*`` variables."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):  # a command invoked without the root callback
        settings = get_settings()
    return settings
