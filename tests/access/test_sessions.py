"""Signing in to the pages: cookie flags, CSRF refusals, logout, expiry, one-time passwords."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from omnichannel.access.api import CSRF_HEADER, SESSION_COOKIE
from omnichannel.opstore.models import WebSession, utcnow
from omnichannel.platform import Platform
from tests.access.conftest import PASSWORD, csrf_of, login


def test_sign_in_sets_a_strict_cookie_and_a_wrong_password_gets_the_same_answer_as_no_user(
    client: TestClient, users: dict[str, str]
) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"
    wrong = login(client, users["marketer"], "not the password at all")
    nobody = login(client, "nobody@shop.example", PASSWORD)
    assert wrong.status_code == nobody.status_code == 401
    assert "Wrong email or password." in wrong.text and "Wrong email or password." in nobody.text
    assert SESSION_COOKIE not in client.cookies

    signed = login(client, users["marketer"], PASSWORD, next_url="/api/me")
    assert signed.status_code == 303 and signed.headers["location"] == "/api/me"
    cookie = next(
        h for h in signed.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags  # plain http here; behind https it is Secure (next test)
    me = client.get("/api/me").json()
    assert (me["actor"], me["role"], me["kind"]) == (users["marketer"], "marketer", "session")
    assert client.get("/", follow_redirects=False).status_code == 200


def test_behind_https_the_cookie_is_secure(client: TestClient, users: dict[str, str]) -> None:
    client.base_url = "https://testserver"  # type: ignore[assignment]  # the browser's view
    signed = login(client, users["viewer"], PASSWORD)
    cookie = next(h for h in signed.headers.get_list("set-cookie") if SESSION_COOKIE in h)
    assert "secure" in cookie.lower()


def test_a_login_form_from_elsewhere_and_a_foreign_next_are_refused(
    client: TestClient, users: dict[str, str]
) -> None:
    forged = client.post(
        "/login",
        data={"email": users["admin"], "password": PASSWORD, "csrf_token": "made-up"},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and SESSION_COOKIE not in client.cookies
    away = login(client, users["admin"], PASSWORD, next_url="//evil.example/")
    assert away.headers["location"] == "/"


def test_state_changes_need_the_sessions_csrf_token(
    client: TestClient, users: dict[str, str], platform: Platform
) -> None:
    login(client, users["admin"], PASSWORD)
    body = {"email": "new@shop.example", "role": "viewer"}
    refused = client.post("/api/users", json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"]["field"] == CSRF_HEADER
    wrong = client.post("/api/users", json=body, headers={CSRF_HEADER: "x" * 43})
    assert wrong.status_code == 403
    assert [u["email"] for u in platform.users.list()].count("new@shop.example") == 0
    made = client.post("/api/users", json=body, headers={CSRF_HEADER: csrf_of(client)})
    assert made.status_code == 201, made.text
    # Reads need no token.
    assert client.get("/api/users").status_code == 200


def test_logout_and_expiry_end_the_session_on_the_server(
    client: TestClient, users: dict[str, str], platform: Platform
) -> None:
    login(client, users["analyst"], PASSWORD)
    cookie = client.cookies[SESSION_COOKIE]
    token = csrf_of(client)
    assert (
        client.post("/logout", headers={CSRF_HEADER: token}, follow_redirects=False).status_code
        == 303
    )
    # The old cookie, replayed, is worth nothing.
    client.cookies.set(SESSION_COOKIE, cookie)
    assert client.get("/api/me").status_code == 401

    client.cookies.clear()
    login(client, users["analyst"], PASSWORD)
    assert client.get("/api/me").status_code == 200
    with platform.opstore.session() as session:  # an hour without a request
        session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=61)))
    assert client.get("/api/me").status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_a_one_time_password_must_be_changed_before_anything_else(
    client: TestClient, platform: Platform
) -> None:
    made = platform.users.create("new@shop.example", role="marketer", actor="test")
    first = made["password"]
    signed = login(client, "new@shop.example", first)
    assert signed.headers["location"] == "/account/password"
    assert client.get("/api/me").status_code == 403
    assert client.get("/", follow_redirects=False).headers["location"] == "/account/password"
    token = csrf_of(client)
    changed = client.post(
        "/account/password",
        data={
            "password": first,
            "new_password": "my own long password",
            "confirm": "my own long password",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303, changed.text
    assert client.get("/api/me").json()["must_change_password"] is False
    client.cookies.clear()
    assert login(client, "new@shop.example", first).status_code == 401
    assert login(client, "new@shop.example", "my own long password").status_code == 303
