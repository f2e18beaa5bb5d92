"""Shared by the email, template and tracking tests: one installation of real people.

Built once per test run and copied (``tests/support/homes.py``: identity resolved,
profiles built), the segment tests' audience: ann (Zoë Pérez Smith, john.smith@gmail.com,
user id ann), bob, cy and dee (unsubscribed from email), eve (no email), fay.
Tests name their own templates and messages, so they share it without seeing each other.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from omnichannel.api.app import create_app
from omnichannel.channels.settings import parse_channels_config
from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.channels.servers.smtp import free_port
from tests.support.homes import audience_home as copy_of_audience_home


@pytest.fixture(scope="session")
def audience_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(home, user -> profile_id) of the audience installation."""
    home = tmp_path_factory.mktemp("h2") / "home"
    return home, copy_of_audience_home(tmp_path_factory, home)


@pytest.fixture
def audience(audience_home: tuple[Path, dict[str, str]]) -> Iterator[Platform]:
    """The audience installation, opened for one test."""
    with Platform(Settings(home=audience_home[0])) as platform:
        yield platform


@pytest.fixture
def audience_copy(audience_home: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    """A private copy of the audience's home, for a test that changes consent or sends."""
    home = tmp_path / "home"
    shutil.copytree(audience_home[0], home, ignore=shutil.ignore_patterns("server.json"))
    return home


@dataclass
class LiveApp:
    """The API app served over real HTTP from this process, and the platform it runs."""

    url: str
    platform: Platform


@contextmanager
def serve_app(home: Path, channels_yaml: Callable[[str], str]) -> Iterator[LiveApp]:
    """``create_app`` under uvicorn on a free port in a thread (lifespan on: the collector's
    ingest runs); ``channels_yaml(url)`` is the configuration, given the server's URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(home=home, loader_interval=0.05)
    app = create_app(settings)
    platform: Platform = app.state.services.platform
    platform.messages.use_config(parse_channels_config(channels_yaml(url)))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveApp(url, platform)
    finally:
        server.should_exit = True
        thread.join(30)
