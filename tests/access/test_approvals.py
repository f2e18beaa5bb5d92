"""A journey goes live on an approver's word, and the approver is not its author."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from omnichannel.access.permissions import AccessDenied
from omnichannel.platform import Platform
from tests.access.conftest import bearer

WELCOME = {
    "name": "welcome",
    "description": "say hello",
    "entry": {"event": {"name": "Signed Up"}},
    "start": "wait",
    "steps": {"wait": {"wait": "1h", "next": "done"}, "done": {"exit": {}}},
}


def test_over_the_api_the_author_cannot_approve_and_an_approver_can(
    client: TestClient, tokens: dict[str, str], users: dict[str, str], platform: Platform
) -> None:
    marketer, approver, admin = (bearer(tokens[r]) for r in ("marketer", "approver", "admin"))
    # The body's actor is ignored for users: the journey is the marketer's.
    made = client.post("/api/journeys", json={**WELCOME, "actor": "someone-else"}, headers=marketer)
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == users["marketer"]
    refused = client.post("/api/journeys/welcome/approve", headers=marketer)
    assert (
        refused.status_code == 403 and refused.json()["detail"]["permission"] == "journeys:approve"
    )
    assert client.post("/api/journeys/welcome/start", headers=marketer).status_code == 409

    approved = client.post(
        "/api/journeys/welcome/approve", json={"actor": users["marketer"]}, headers=approver
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == users["approver"]
    assert client.post("/api/journeys/welcome/start", headers=marketer).json()["status"] == "live"

    # An admin's own version waits for someone else.
    saved = client.put(
        "/api/journeys/welcome", json={**WELCOME, "description": "v2"}, headers=admin
    )
    assert saved.status_code == 200, saved.text
    own = client.post("/api/journeys/welcome/approve", headers=admin)
    assert own.status_code == 400 and "someone other than" in own.json()["detail"]["message"]
    entries = platform.access.audit(target="journey:welcome", action="journey.approve")
    assert [e["actor"] for e in entries] == [users["approver"]]
    assert entries[0]["before"]["status"] == "draft" and entries[0]["before"]["approved_by"] is None
    assert entries[0]["after"]["status"] == "approved"
    assert entries[0]["after"]["approved_by"] == users["approver"]
    started = platform.access.audit(target="journey:welcome", action="journey.start")[0]
    assert (started["before"]["live_version"], started["after"]["live_version"]) == (None, 1)


def test_in_python_a_user_without_the_approver_role_is_refused(
    platform: Platform, users: dict[str, str]
) -> None:
    platform.journeys.create(WELCOME, actor=users["marketer"])
    with pytest.raises(
        AccessDenied, match="journeys:approve needs one of the roles admin, approver"
    ):
        platform.journeys.approve("welcome", actor=users["viewer"])
    assert platform.journeys.approve("welcome", actor=users["approver"])["status"] == "approved"
