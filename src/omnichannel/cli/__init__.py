"""The ``omni`` command line: Typer + Rich, each command a thin call into a module."""

from __future__ import annotations

from omnichannel.cli.main import app, main

__all__ = ["app", "main"]
