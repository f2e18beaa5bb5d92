"""The gate while tokens are answered from the trust-window cache, as in ``omni serve``.

The other access tests set ``write_key_cache_seconds=0``, so every request reads the
operational store; here the cache holds each token's answer (the server's default path,
taken on the event loop without the database), and the gate must decide the same:
permissions still checked per route, masking still applied, a wrong token still 401.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.access.conftest import PASSWORD, bearer
from tests.support.collector import make_admin_token
from tests.support.homes import audience_home

ROLES = {"sam@shop.example": "service_desk", "vic@shop.example": "viewer"}


@pytest.fixture(scope="module")
def cached_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("token-cache") / "home"
    audience_home(tmp_path_factory, target)
    return target


def test_cached_tokens_get_the_same_answers_as_looked_up_ones(cached_home: Path) -> None:
    settings = Settings(home=cached_home, write_key_cache_seconds=600)
    admin = bearer(make_admin_token(cached_home))
    with Platform(settings) as platform:
        for email, role in ROLES.items():
            platform.users.create(email, role=role, password=PASSWORD, actor="t")
        desk = bearer(platform.users.create_token("sam@shop.example", name="t", actor="t")["token"])
        viewer = bearer(
            platform.users.create_token("vic@shop.example", name="t", actor="t")["token"]
        )
    ids = "/v1/profiles/phone:+8613812345678/external_ids"
    with TestClient(create_app(settings)) as client:
        # Twice each: the first answer is looked up, the second comes from the cache.
        for _ in range(2):
            full = client.get(ids, headers=admin)
            masked = client.get(ids, headers=desk)
            refused = client.post("/v1/sources", headers=viewer, json={"name": "x"})
            wrong = client.get(ids, headers=bearer("omni_tok_made-up"))
            wrong_admin = client.get(ids, headers=bearer("omni_admin_made-up"))
            assert full.status_code == masked.status_code == 200
            assert "+8613812345678" in full.text
            assert "+8613812345678" not in masked.text and "+86*******5678" in masked.text
            assert refused.status_code == 403, refused.text
            assert refused.json()["detail"]["permission"] == "sources:write"
            assert wrong.status_code == wrong_admin.status_code == 401
