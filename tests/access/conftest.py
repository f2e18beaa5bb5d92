"""Fixtures for access tests: a home with its admin token, users per role, sign-in helper.

Hashing uses cheap Argon2 parameters here (8 MiB, one pass): the tests check what the
hashing does, not how slow it is; ``test_passwords`` checks the production defaults.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from omnichannel.access import passwords
from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.installation import initialise
from omnichannel.platform import Platform

PASSWORD = "correct horse battery"
ROLE_USERS = {
    "admin": "ada@shop.example",
    "marketer": "mia@shop.example",
    "analyst": "al@shop.example",
    "approver": "li@shop.example",
    "viewer": "vic@shop.example",
    "service_desk": "sam@shop.example",
}


@pytest.fixture(autouse=True)
def cheap_hashing() -> Iterator[PasswordHasher]:
    cheap = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    previous = passwords.use_hasher(cheap)
    yield cheap
    passwords.use_hasher(previous)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", write_key_cache_seconds=0)


@pytest.fixture
def admin_token(settings: Settings) -> str:
    return str(initialise(settings)["admin_token"])


@pytest.fixture
def platform(settings: Settings, admin_token: str) -> Iterator[Platform]:
    with Platform(settings) as opened:
        yield opened


@pytest.fixture
def users(platform: Platform) -> dict[str, str]:
    """One user per role (password ``PASSWORD``, no change needed); role -> email."""
    for role, email in ROLE_USERS.items():
        platform.users.create(email, role=role, password=PASSWORD, actor="test")
    return dict(ROLE_USERS)


@pytest.fixture
def tokens(platform: Platform, users: dict[str, str]) -> dict[str, str]:
    """An API token per role; role -> token."""
    return {
        role: platform.users.create_token(email, name="tests", actor="test")["token"]
        for role, email in users.items()
    }


@pytest.fixture
def client(settings: Settings, admin_token: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://testserver") as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, email: str, password: str, *, next_url: str = "/") -> httpx.Response:
    """Sign in as a browser does: the form's CSRF token, then the post (not followed)."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": found.group(1), "next": next_url},
        follow_redirects=False,
    )


def csrf_of(client: TestClient) -> str:
    """The session's CSRF token, as a page would hand it to htmx (from the password page)."""
    page = client.get("/account/password")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)
