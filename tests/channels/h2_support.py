"""Shared by the email, template and tracking tests: one installation of real people.

Built once per test session (identity resolved, profiles built: about 20 s on the shared
machine), from the segment tests' audience: ann (Zoë Pérez Smith, john.smith@gmail.com,
user id ann), bob, cy and dee (unsubscribed from email), eve (no email), fay.
Tests name their own templates and messages, so they share it without seeing each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.segments.audience import build_audience_home


@pytest.fixture(scope="session")
def people_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(home, user -> profile_id) of the audience installation."""
    home = tmp_path_factory.mktemp("h2") / "home"
    return home, build_audience_home(home)


@pytest.fixture
def people(people_home: tuple[Path, dict[str, str]]) -> Iterator[Platform]:
    """The audience installation, opened for one test."""
    with Platform(Settings(home=people_home[0])) as platform:
        yield platform
