"""``/api/templates`` over real HTTP: admin only, save with versions, refusal with the line,
preview for a real person, archive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from omnichannel.opstore.admin_tokens import create_admin_token
from tests.channels import h2_support
from tests.channels.h2_support import serve_app

audience_home = h2_support.audience_home
audience_copy = h2_support.audience_copy

WELCOME = {
    "subject": "Welcome, {{ profile.first_name }}",
    "text": "Hello {{ profile.first_name }}\n{{ unsubscribe_url }}",
}


@pytest.fixture
def api(audience_copy: Path) -> Iterator[httpx.Client]:
    with serve_app(audience_copy, lambda url: f"public_base_url: {url}\n") as app:
        with app.platform.opstore.session() as session:
            token = create_admin_token(session, actor="test")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=app.url, headers=headers, timeout=60) as http:
            yield http


def test_templates_over_http(api: httpx.Client) -> None:
    assert httpx.get(f"{api.base_url}/api/templates").status_code == 401
    saved = api.put("/api/templates/welcome", json={"channel": "email", "content": WELCOME})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["version"], saved.json()["changed"]) == (1, True)
    assert saved.json()["sample"]["subject"].startswith("Welcome, ")

    broken = {**WELCOME, "text": "Hello\n{{ profile.frist_name }}"}
    refused = api.put("/api/templates/welcome", json={"channel": "email", "content": broken})
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert detail["field"] == "content.text"
    assert detail["message"].startswith("content.text line 2: 'frist_name' is undefined")

    second = {**WELCOME, "subject": "Hi {{ profile.first_name }}"}
    assert (
        api.put("/api/templates/welcome", json={"channel": "email", "content": second}).json()[
            "version"
        ]
        == 2
    )
    assert [v["version"] for v in api.get("/api/templates/welcome/versions").json()] == [1, 2]
    assert api.get("/api/templates/welcome", params={"version": 1}).json()["content"] == WELCOME

    shown = api.post("/api/templates/welcome/preview", params={"profile": "user_id:ann"})
    assert shown.status_code == 200 and shown.json()["rendered"]["subject"] == "Hi Zoë"
    assert shown.json()["rendered"]["text"].endswith("/unsubscribe/preview")
    nobody = api.post("/api/templates/welcome/preview", params={"profile": "email:no@mail.cn"})
    assert nobody.status_code == 404 and "email:no@mail.cn" in nobody.json()["detail"]["message"]

    assert api.post("/api/templates/welcome/archive").json()["archived_at"] is not None
    assert api.get("/api/templates").json() == []
    missing = api.get("/api/templates/nope")
    assert missing.status_code == 404 and "no template named 'nope'" in missing.text
