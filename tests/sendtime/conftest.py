"""One built installation for every send-time test module, copied per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnichannel.platform import Platform
from tests.sendtime.world import build_world
from tests.support.cache import built_once, copy_home


@pytest.fixture(scope="module")
def world_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the world, send times built."""
    built, _ = built_once(tmp_path_factory, "sendtime-world", _build)
    home = tmp_path_factory.mktemp("sendtime") / "home"
    copy_home(built / "home", home)
    return home


def _build(directory: Path) -> dict[str, str]:
    build_world(directory / "home")
    with Platform.open(directory / "home") as platform:
        platform.send_times.build()
    return {}


@pytest.fixture(scope="module")
def platform(world_home: Path) -> Iterator[Platform]:
    with Platform.open(world_home) as opened:
        yield opened
