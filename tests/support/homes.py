"""Installations several test modules start from, built once per run and copied."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.segments.audience import build_audience_home
from tests.support.cache import built_once, copy_home


def audience_home(factory: pytest.TempPathFactory, target: Path) -> dict[str, str]:
    """A private copy of ``build_audience_home``'s installation at ``target``; user -> profile.

    Built once (identity resolved, profiles built: tens of seconds), copied in milliseconds.
    """
    built, profile_of = built_once(
        factory, "audience-home", lambda directory: build_audience_home(directory / "home")
    )
    copy_home(built / "home", target)
    return dict(profile_of)
