from __future__ import annotations

from pathlib import Path

import pytest

from omnichannel.platform import Platform
from tests.analytics.world import build_world


@pytest.fixture(scope="package")
def world_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installation holding ``tests/analytics/world.py``'s business (identity resolved)."""
    home = tmp_path_factory.mktemp("attribution") / "home"
    with Platform.open(home) as platform, platform.warehouse.writer() as wh:
        build_world(wh)
    return home
