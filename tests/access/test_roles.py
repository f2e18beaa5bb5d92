"""The role matrix on the API: a viewer changes nothing, the service desk sees masked contacts.

Samples of docs/access.md's table over HTTP, with each role's API token; the masking on a
real profile (the audience home: ann's email and phone in the warehouse).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omnichannel.access.api import permission_of_route
from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.access.conftest import PASSWORD, bearer
from tests.access.test_every_route import routes
from tests.support.collector import make_admin_token
from tests.support.homes import audience_home


def test_a_viewer_cannot_change_anything(client: TestClient, tokens: dict[str, str]) -> None:
    """Every gated route that is not a read answers the viewer 403, before it runs."""
    viewer = bearer(tokens["viewer"])
    tried = 0
    for route in routes(client.app):
        gate = permission_of_route(route) if hasattr(route, "methods") else None
        if gate is None or gate.startswith("public:") or gate == "signed-in":
            continue
        # Reads, and comments: viewers join the discussion, which changes no object.
        if gate.endswith(":read") or gate == "comments:write":
            continue
        for method in sorted(route.methods or []):
            if method in ("GET", "HEAD"):
                continue
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            answer = client.request(method, path, headers=viewer, json={})
            assert answer.status_code == 403, (method, route.path, answer.text)
            detail = answer.json()["detail"]
            assert detail["field"] == "role" and detail["value"] == "viewer"
            assert detail["permission"] == gate and "viewer" in detail["message"]
            tried += 1
    assert tried > 40
    # Reads are the viewer's.
    assert client.get("/api/segments", headers=viewer).status_code == 200
    assert client.get("/api/journeys", headers=viewer).status_code == 200


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("marketer", "POST", "/api/segments/preview", True),
        ("marketer", "GET", "/api/users", False),
        ("analyst", "POST", "/v1/warehouse/query", True),
        ("marketer", "POST", "/v1/warehouse/query", False),
        ("approver", "GET", "/api/audit", True),
        ("viewer", "GET", "/api/audit", False),
        ("service_desk", "GET", "/api/segments", False),
        ("service_desk", "GET", "/v1/warehouse/tables", False),
        ("admin", "GET", "/api/users", True),
        ("viewer", "POST", "/v1/sources", False),
    ],
)
def test_role_matrix_samples(
    client: TestClient, tokens: dict[str, str], role: str, method: str, path: str, allowed: bool
) -> None:
    body = {"sql": "SELECT 1 AS one"} if path.endswith("/query") else {"condition": {}}
    answer = client.request(method, path, headers=bearer(tokens[role]), json=body)
    if allowed:
        assert answer.status_code != 403, answer.text
    else:
        assert answer.status_code == 403, answer.text


def test_no_credentials_is_401_and_a_revoked_or_foreign_token_too(
    client: TestClient, tokens: dict[str, str], platform: Platform
) -> None:
    assert client.get("/api/segments").status_code == 401
    assert client.get("/api/segments", headers=bearer("omni_tok_made-up")).status_code == 401
    marketer = bearer(tokens["marketer"])
    assert client.get("/api/segments", headers=marketer).status_code == 200
    token_id = platform.users.list_tokens("mia@shop.example")[0]["id"]
    platform.users.revoke_token(token_id, actor="test")
    assert client.get("/api/segments", headers=marketer).status_code == 401


@pytest.fixture(scope="module")
def profile_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("masking") / "home"
    audience_home(tmp_path_factory, target)
    return target


def test_the_service_desk_sees_masked_contacts_and_an_admin_the_real_ones(
    profile_home: Path,
) -> None:
    settings = Settings(home=profile_home, write_key_cache_seconds=0)
    admin = bearer(make_admin_token(profile_home))
    with Platform(settings) as platform:
        platform.users.create("sam@shop.example", role="service_desk", password=PASSWORD, actor="t")
        desk = bearer(platform.users.create_token("sam@shop.example", name="t", actor="t")["token"])
    with TestClient(create_app(settings)) as client:
        full = client.get("/v1/profiles/user_id:ann/card", headers=admin)
        masked = client.get("/v1/profiles/user_id:ann/card", headers=desk)
        by_phone = client.get("/v1/profiles/phone:+8613812345678/external_ids", headers=desk)
    assert full.status_code == masked.status_code == by_phone.status_code == 200
    emails = full.json()["identifiers"]["email"]
    assert "+8613812345678" in full.text and emails and emails[0] in full.text
    assert "+8613812345678" not in masked.text and "+86*******5678" in masked.text
    assert all(email not in masked.text for email in emails)
    assert re.search(r'"[a-z]\*+@[a-z]\*+\.com"', masked.text)
    assert "+8613812345678" not in by_phone.text
    # The rest of the card is there: the masking hides contacts, not the person's story.
    assert masked.json()["profile_id"] == full.json()["profile_id"]
    assert masked.json()["timeline"] == full.json()["timeline"] or "timeline" in masked.json()


def test_on_the_pages_the_service_desk_sees_masked_phones_and_cannot_reach_the_overview(
    profile_home: Path,
) -> None:
    from tests.access.conftest import login

    settings = Settings(home=profile_home, write_key_cache_seconds=0)
    with Platform(settings) as platform:
        for email, role in (("desk@shop.example", "service_desk"), ("ma@shop.example", "marketer")):
            if email not in {u["email"] for u in platform.users.list()}:
                platform.users.create(email, role=role, password=PASSWORD, actor="t")
    with TestClient(create_app(settings)) as client:
        assert login(client, "desk@shop.example", PASSWORD).status_code == 303
        home = client.get("/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"] == "/service-desk"
        for url in ("/service-desk?q=user_id:ann", "/customers?q=phone:%2B8613812345678"):
            page = client.get(url)
            assert page.status_code == 200, (url, page.text[:300])
            assert "+8613812345678" not in page.text and "5678" in page.text, url
        assert client.get("/segments").status_code == 403
        client.cookies.clear()
        assert login(client, "ma@shop.example", PASSWORD).status_code == 303
        assert "+8613812345678" in client.get("/customers?q=user_id:ann").text
