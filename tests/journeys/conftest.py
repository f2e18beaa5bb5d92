"""Fixtures shared by the journey tests: a small installation to run journeys in.

``journey_home`` is a private copy (per test) of ``tests/support/homes.py``'s audience
home (six people, ann bob cy dee eve fay, identity resolved, profiles built; user ->
profile id in ``JourneyHome.profiles``) plus what a journey refers to:

- ``channels.yaml``: email (to localhost:2525, nothing listens unless a test starts a
  server) and webhook with one endpoint ``crm``; sms, push and wechat have no section.
- templates ``cart-reminder`` and ``welcome`` (email) and ``push-hello`` (push);
- segment ``buyers`` (everyone who ordered: all six).

Engineers' own helpers live in ``tests/journeys/<owner>_support.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.support.cache import built_once, copy_home
from tests.support.homes import audience_home

CHANNELS_YAML = """\
email:
  host: localhost
  port: 2525
  from_address: shop@example.com
webhook:
  endpoints:
    crm: {url: "http://127.0.0.1:9/crm", secret: journey-test-secret}
"""

TEMPLATES = {
    "cart-reminder": (
        "email",
        {
            "subject": "Your cart, {{ profile.first_name or 'friend' }}",
            "text": "Come back. {{ unsubscribe_url }}",
        },
    ),
    "welcome": ("email", {"subject": "Welcome", "text": "Hello! {{ unsubscribe_url }}"}),
    "push-hello": ("push", {"title": "Hello", "body": "Hi there"}),
}
BUYERS = {"name": "buyers", "condition": {"event": {"name": "Order Completed"}}}


@dataclass(frozen=True)
class JourneyHome:
    home: Path
    profiles: dict[str, str]  # user id (ann, bob...) -> profile id

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home)

    def open(self) -> Platform:
        return Platform(self.settings)


def _build(factory: pytest.TempPathFactory, directory: Path) -> dict[str, str]:
    home = directory / "home"
    profiles = audience_home(factory, home)
    (home / "channels.yaml").write_text(CHANNELS_YAML)
    with Platform(Settings(home=home)) as platform:
        for name, (channel, content) in TEMPLATES.items():
            platform.templates.save(name, channel=channel, content=content, created_by="test")
        platform.segments.create(BUYERS, created_by="test")
    return profiles


@pytest.fixture(scope="session")
def journey_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The built installation (never written to: tests use ``journey_home``'s copies)."""
    built, profiles = built_once(
        tmp_path_factory, "journeys-home", lambda directory: _build(tmp_path_factory, directory)
    )
    return built / "home", dict(profiles)


@pytest.fixture
def journey_home(journey_template: tuple[Path, dict[str, str]], tmp_path: Path) -> JourneyHome:
    source, profiles = journey_template
    return JourneyHome(copy_home(source, tmp_path / "home"), profiles)


@pytest.fixture
def platform(journey_home: JourneyHome) -> Iterator[Platform]:
    with journey_home.open() as opened:
        yield opened
