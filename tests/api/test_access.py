"""Who may call what: admin tokens for management, CORS for browser SDKs, bounded anonymous cost.

Before: anyone could mint a write key for any source, revoke sources and read personal
data; a keyless 3.5 MB POST was fsync'd whole into dead letters; ``OPTIONS /v1/track``
answered 405, so a browser client sending an Authorization header was blocked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from omnichannel.api import create_app
from omnichannel.cli import app as cli_app
from omnichannel.config import Settings
from omnichannel.installation import describe_installation, initialise
from tests.ingest.test_collector import rows
from tests.support.collector import bearer, make_admin_token


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", loader_interval=0.05, write_key_cache_seconds=0)


@pytest.fixture
def token(settings: Settings) -> str:
    made = initialise(settings)["admin_token"]
    assert made.startswith("omni_admin_")
    return str(made)


@pytest.fixture
def client(settings: Settings, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


MANAGEMENT = [
    ("GET", "/v1/sources", None),
    ("POST", "/v1/sources", {"name": "web"}),
    ("POST", "/v1/sources/web/keys", None),
    ("POST", "/v1/sources/web/revoke", None),
]


def test_management_routes_refuse_requests_without_the_admin_token(
    client: TestClient, token: str
) -> None:
    for method, path, body in MANAGEMENT:
        for headers in ({}, bearer("omni_admin_guessed"), bearer(token[:-1] + "x")):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["detail"]["field"] == "Authorization"
    # Nothing was created by the refused calls.
    listed = client.get("/v1/sources", headers=bearer(token))
    assert listed.status_code == 200 and listed.json() == []
    created = client.post("/v1/sources", json={"name": "web"}, headers=bearer(token))
    assert created.status_code == 201 and created.json()["write_key"].startswith("wk_")


def test_init_makes_the_token_once_and_omni_admin_token_replaces_it(
    settings: Settings, token: str
) -> None:
    again = initialise(settings)["admin_token"]
    assert "already set" in again and token not in again
    env = {"OMNI_HOME": str(settings.home), "OMNI_WRITE_KEY_CACHE_SECONDS": "0"}
    result = CliRunner().invoke(cli_app, ["admin", "token", "--json"], env=env)
    assert result.exit_code == 0, result.output
    new = json.loads(result.output)["admin_token"]
    assert new.startswith("omni_admin_") and new != token
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/sources", headers=bearer(token)).status_code == 401
        assert client.get("/v1/sources", headers=bearer(new)).status_code == 200
    # Only a digest is stored: the token itself is nowhere in the operational store.
    assert new.encode() not in (settings.home / "opstore.sqlite").read_bytes()


def test_a_browser_preflight_with_an_authorization_header_succeeds(client: TestClient) -> None:
    response = client.options(
        "/v1/track",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_cors_origins_are_a_setting(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "h", cors_origins="https://shop.example, https://m.shop.example"
    )
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    with TestClient(create_app(settings)) as client:
        allowed = client.options(
            "/v1/batch", headers={**preflight, "Origin": "https://m.shop.example"}
        )
        other = client.options("/v1/batch", headers={**preflight, "Origin": "https://evil.example"})
        simple = client.post("/v1/track", content="{}", headers={"Origin": "https://evil.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://m.shop.example"
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in simple.headers


def test_keyless_requests_are_all_counted_and_only_a_truncated_sample_kept(
    tmp_path: Path,
) -> None:
    settings = Settings(
        home=tmp_path / "home",
        loader_interval=0.05,
        unauthorized_sample_per_hour=3,
        unauthorized_sample_bytes=1000,
    )
    huge = b'{"userId": "u", "event": "E", "pad": "' + b"x" * 3_500_000 + b'"}'
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/batch", content=huge).status_code == 413
        for n in range(9):
            call = {"userId": "u", "event": f"E{n}", "writeKey": "wk_unknown" if n % 2 else ""}
            assert client.post("/v1/track", json=call).status_code == 401
        stats = client.get("/v1/events/stats", headers=bearer(make_admin_token(settings.home)))
        stats = stats.json()
        letters = rows(client, "dead_letters", "received_at")
    assert stats["unauthorized"]["requests"] == 10
    assert stats["unauthorized"]["sampled"] == 3
    assert stats["unauthorized"]["by_reason"] == {"missing_key": 6, "invalid_key": 4}
    assert len(letters) == 3 and all(len(d["payload"]) <= 1000 for d in letters)
    assert "first 1000 of 3500040 bytes kept" in letters[0]["origin"]
    assert stats["events"]["total"] == 0
    # Kept in the operational store, so `omni status` reads them with no server running.
    collector = describe_installation(settings)["collector"]
    assert collector == {"unauthorized_requests": 10, "unauthorized_sampled": 3}


def test_openapi_documents_every_collector_answer_and_the_400_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/v1/track", "/v1/batch", "/v1/import"):
        answers = spec["paths"][path]["post"]["responses"]
        assert {"200", "400", "401", "413", "503"} <= set(answers), path
        schema = answers["400"]["content"]["application/json"]["schema"]["$ref"]
        assert schema.endswith("/CollectorError")
    profile = spec["paths"]["/v1/profiles/{identifier}/events"]["get"]["responses"]
    assert "400" in profile and "422" not in profile and "401" in profile
    body = profile["400"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/ErrorBody") and "HTTPValidationError" not in json.dumps(spec)
    assert spec["paths"]["/v1/sources"]["get"]["security"] == [{"HTTPBearer": []}]


def test_omni_init_prints_the_whole_token_once_and_it_opens_the_admin_routes(
    tmp_path: Path,
) -> None:
    env = {"OMNI_HOME": str(tmp_path / "home")}
    first = CliRunner().invoke(cli_app, ["init"], env=env)
    second = CliRunner().invoke(cli_app, ["init"], env=env)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    token = first.output.strip().splitlines()[-1]
    assert token.startswith("omni_admin_") and len(token) > 50
    assert token not in second.output and "already set" in second.output
    with TestClient(create_app(Settings(home=tmp_path / "home"))) as client:
        assert client.get("/v1/sources", headers=bearer(token)).status_code == 200


def test_an_unreachable_warehouse_is_503_with_the_reason_not_500(tmp_path: Path) -> None:
    broken = Settings(home=tmp_path, warehouse_url="postgres://nobody@127.0.0.1:1/none")
    token = make_admin_token(tmp_path)
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        response = client.get("/v1/warehouse/tables", headers=bearer(token))
    assert response.status_code == 503
    assert "cannot open warehouse postgres://nobody@127.0.0.1:1/none" in response.text


def test_a_taken_source_name_is_400_naming_the_field(client: TestClient, token: str) -> None:
    assert (
        client.post("/v1/sources", json={"name": "web"}, headers=bearer(token)).status_code == 201
    )
    again = client.post("/v1/sources", json={"name": "web"}, headers=bearer(token))
    assert again.status_code == 400
    detail = again.json()["detail"]
    assert detail["field"] == "name" and "web" in detail["message"]
