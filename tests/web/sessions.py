"""Signed-in browsers for page tests: users of a role made through the API (admin token),
each with a client of its own (its cookie jar) on the module's app, signed in through the
login form as a browser does."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from omnichannel.access import passwords

PASSWORD = "page tests password"


@pytest.fixture(scope="module", autouse=True)
def cheap_hashing() -> Iterator[None]:
    """Cheap Argon2 for sign-ins here (tests/access checks the production parameters)."""
    previous = passwords.use_hasher(
        PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    )
    yield
    passwords.use_hasher(previous)


def signed_in(admin: TestClient, email: str, role: str) -> TestClient:
    """A new user ``email`` of ``role`` (or the existing one, password reset), signed in."""
    made = admin.post("/api/users", json={"email": email, "role": role, "password": PASSWORD})
    if made.status_code == 409:
        reset = admin.post(f"/api/users/{email}/password", json={"password": PASSWORD})
        assert reset.status_code == 200, reset.text
    else:
        assert made.status_code == 201, made.text
    browser = TestClient(admin.app, base_url=str(admin.base_url))
    page = browser.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    answer = browser.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return browser


def csrf(browser: TestClient, path: str) -> str:
    """The session's CSRF token, as the page at ``path`` hands it to its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(path).text)
    assert found, path
    return found.group(1)
