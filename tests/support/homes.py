"""Installations several test modules start from, built once per run and copied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.run import omni
from tests.segments.audience import build_audience_home
from tests.support.cache import built_once, copy_home

# The README tour's business (`make demo` at a small size) and the `omni demo` CLI test's.
SMALL_DEMO_ARGS = ("demo", "--people", "300")


def audience_home(factory: pytest.TempPathFactory, target: Path) -> dict[str, str]:
    """A private copy of ``build_audience_home``'s installation at ``target``; user -> profile.

    Built once (identity resolved, profiles built: tens of seconds), copied in milliseconds.
    """
    built, profile_of = built_once(
        factory, "audience-home", lambda directory: build_audience_home(directory / "home")
    )
    copy_home(built / "home", target)
    return dict(profile_of)


def small_demo_home(factory: pytest.TempPathFactory, target: Path) -> dict[str, Any]:
    """A private copy at ``target`` of the home ``omni demo --people 300`` makes, and the
    summary it printed with ``--json``.

    Run once per test run as a user runs it (a real process, from a directory, so the
    home is its default ``./omni-home``): about forty CPU-seconds, most of them linkage,
    resolution and profiles, that the README tour and the CLI's demo test share.
    """

    def build(directory: Path) -> dict[str, Any]:
        printed = omni(*SMALL_DEMO_ARGS, "--json", cwd=directory).stdout
        summary: dict[str, Any] = json.loads(printed)
        return summary

    built, summary = built_once(factory, "small-demo-home", build)
    copy_home(built / "omni-home", target)
    return dict(summary)
