"""Every change to users and tokens is audited with who, when, before and after."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from omnichannel.errors import ConflictError
from omnichannel.platform import Platform
from tests.access.conftest import bearer


def test_a_role_change_is_recorded_with_the_user_before_and_after(
    client: TestClient, tokens: dict[str, str], users: dict[str, str], platform: Platform
) -> None:
    admin = bearer(tokens["admin"])
    changed = client.post(
        f"/api/users/{users['viewer']}/role", json={"role": "marketer"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["role"] == "marketer"
    answer = client.get(
        "/api/audit", params={"target": f"user:{users['viewer']}"}, headers=admin
    ).json()
    latest = answer[0]
    assert (latest["actor"], latest["action"]) == (users["admin"], "user.role")
    assert latest["before"]["role"] == "viewer" and latest["after"]["role"] == "marketer"
    assert latest["at"].endswith("+00:00")
    created = answer[-1]
    assert created["action"] == "user.create" and created["before"] is None
    assert "$argon2" not in str(answer) and '"password"' not in json.dumps(answer)  # no secrets
    # Approvers read the log; viewers and marketers do not.
    assert client.get("/api/audit", headers=bearer(tokens["approver"])).status_code == 200
    assert client.get("/api/audit", headers=bearer(tokens["marketer"])).status_code == 403


def test_the_last_admin_keeps_the_role_and_disabling_stops_tokens(
    client: TestClient, tokens: dict[str, str], users: dict[str, str], platform: Platform
) -> None:
    with pytest.raises(ConflictError, match="last active admin"):
        platform.users.set_role(users["admin"], "viewer", actor="test")
    marketer = bearer(tokens["marketer"])
    assert client.get("/api/segments", headers=marketer).status_code == 200
    platform.users.disable(users["marketer"], actor="test")
    assert client.get("/api/segments", headers=marketer).status_code == 401
    entry = platform.access.audit(action="user.disable")[0]
    assert entry["before"]["active"] is True and entry["after"]["active"] is False


def test_a_segment_change_is_recorded_with_the_definition_before_and_after(
    client: TestClient, tokens: dict[str, str], users: dict[str, str], platform: Platform
) -> None:
    marketer = bearer(tokens["marketer"])
    first = {"all": [{"trait": {"field": "orders", "gte": 1}}]}
    then = {"all": [{"trait": {"field": "orders", "gte": 2}}]}
    platform.segments.create({"name": "city", "condition": first}, created_by=users["marketer"])
    changed = client.put("/api/segments/city", json={"condition": then}, headers=marketer)
    assert changed.status_code == 200, changed.text
    entries = platform.access.audit(target="segment:city")
    update = next(e for e in entries if e["action"] == "segment.update")
    assert update["before"]["definition"]["condition"] == first
    assert update["after"]["definition"]["condition"] == then
    created = next(e for e in entries if e["action"] == "segment.create")
    assert created["before"] is None and created["after"]["version"] == 1
