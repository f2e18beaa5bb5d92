"""The web pages' tests: one copy of the small demo home per module, and a person in it;
for the browser tests, the worker's one ``omni serve`` (tests/web/browsers.py)."""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnichannel.api.app import create_app
from omnichannel.config import Settings
from tests.support.collector import Server, bearer, make_admin_token
from tests.support.homes import small_demo_home


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("web") / "home"
    small_demo_home(tmp_path_factory, home)
    return home


@pytest.fixture(scope="module")
def client(demo_home: Path) -> Iterator[TestClient]:
    settings = Settings(home=demo_home)
    token = bearer(make_admin_token(demo_home))
    with TestClient(create_app(settings), headers=token) as test_client:
        yield test_client


def a_member(client: TestClient, segment: str = "lapsing") -> dict[str, Any]:
    """A member of ``segment`` with an email and a phone: its 360° card from the API."""
    exported = client.get(f"/segments/{segment}", params={"format": "csv", "table": "members"})
    for line in exported.text.lstrip("\ufeff").splitlines()[1:]:
        profile_id = line.strip()
        card: dict[str, Any] = client.get(f"/v1/profiles/profile_id:{profile_id}/card").json()
        ids = card["identifiers"]
        if ids.get("email") and ids.get("phone") and ids.get("user_id"):
            return card
    raise AssertionError(f"no member of {segment} has an email, a phone and a user id")


@pytest.fixture(scope="module")
def person(client: TestClient) -> dict[str, Any]:
    return a_member(client)


@pytest.fixture(scope="module")
def browser_server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    """The worker's ``omni serve`` on its own copy of the small demo home, shared by the
    browser modules that run one after another (tests/web/browsers.py)."""
    from tests.web.browsers import shared_server  # skips the test where chromium is missing

    return shared_server(tmp_path_factory)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    """After the fixtures' teardown: the worker's browser server and chromium stop when its
    next test is not a browser test (an idle server keeps polling its event log)."""
    yield
    browsers = sys.modules.get("tests.web.browsers")
    next_is_a_browser_test = nextitem is not None and nextitem.get_closest_marker("browser")
    if browsers is not None and not next_is_a_browser_test:
        browsers.release()
