"""``/api/journeys``: the same operations as ``platform.journeys``, over HTTP (in process).

Errors go through ``api/errors.py``: a bad document 400 naming the path inside it, an
unknown journey 404, a refused lifecycle move 409.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from omnichannel.api import create_app
from tests.journeys.conftest import JourneyHome
from tests.journeys.o_support import CART, add_enrolment, cart, store_events, with_step
from tests.journeys.test_simulate import EVENTS, NOW, PLAIN
from tests.support.collector import bearer, make_admin_token


@pytest.fixture
def api(journey_home: JourneyHome) -> Iterator[TestClient]:
    token = make_admin_token(journey_home.home)
    with TestClient(create_app(journey_home.settings), headers=bearer(token)) as client:
        yield client


def test_journeys_need_the_admin_token(journey_home: JourneyHome) -> None:
    with TestClient(create_app(journey_home.settings)) as client:
        assert client.get("/api/journeys").status_code == 401


def test_create_approve_start_edit_and_archive(api: TestClient, journey_home: JourneyHome) -> None:
    created = api.post("/api/journeys", json={**CART, "actor": "ana"})
    assert created.status_code == 201, created.text
    assert (created.json()["status"], created.json()["version"]) == ("draft", 1)
    assert api.post("/api/journeys", json=CART).status_code == 409
    refused = api.post("/api/journeys/cart/start", json={"actor": "li"})
    assert refused.status_code == 409
    assert "'cart' is draft: start needs it approved" in refused.json()["detail"]["message"]
    assert (
        api.post("/api/journeys/cart/approve", json={"actor": "li"}).json()["approved_by"] == "li"
    )
    assert api.post("/api/journeys/cart/start").json()["live_version"] == 1
    edited = api.put("/api/journeys/cart", json={**cart(description="v2"), "actor": "ana"})
    assert (edited.status_code, edited.json()["version"], edited.json()["live_version"]) == (
        200,
        2,
        1,
    )
    listed = {j["name"]: j for j in api.get("/api/journeys").json()}
    assert listed["cart"]["pending_approval"] is True and listed["cart"]["in_flight"] == 0
    with journey_home.open() as platform:
        journey_id = platform.journeys.store.require("cart").id
        add_enrolment(platform.opstore, journey_id, "p_1")
    page = api.get("/api/journeys/cart/enrolments", params={"state": "active"}).json()
    assert page["total"] == 1 and page["enrolments"][0]["subject"] == "p_1"
    shown = api.get("/api/journeys/cart").json()
    assert shown["enrolments"]["active"] == 1 and shown["actions"] == [
        "approve",
        "start",
        "pause",
        "archive",
    ]
    archived = api.post("/api/journeys/cart/archive", json={"actor": "li"}).json()
    assert (archived["status"], archived["exited"]) == ("archived", 1)
    stats = api.get("/api/journeys/cart/stats").json()
    assert stats["exit_reasons"] == {"archived": 1} and stats["conversion"]["p_value"] is None


def test_bad_input_names_the_path_and_unknown_journeys_are_404(api: TestClient) -> None:
    bad = api.post(
        "/api/journeys/validate",
        json=with_step(
            CART, "reminder", {"send": {"channel": "email", "template": "x"}, "next": "done"}
        ),
    )
    assert bad.status_code == 400
    assert bad.json()["detail"]["field"] == "steps.reminder.send.template"
    graph = api.post("/api/journeys", json=cart(start="nowhere"))
    assert graph.status_code == 400 and graph.json()["detail"]["field"] == "start"
    good = api.post("/api/journeys/validate", json=CART).json()
    assert good["valid"] and good["templates"] == ["cart-reminder"]
    missing = api.get("/api/journeys/nope")
    assert (
        missing.status_code == 404
        and "no journey named 'nope'" in missing.json()["detail"]["message"]
    )
    assert api.get("/api/journeys/nope/stats").status_code == 404
    state = api.get("/api/journeys/nope/enrolments", params={"limit": 0})
    assert state.status_code == 400 and state.json()["detail"]["field"] == "limit"
    both = api.post("/api/journeys/simulate", json={"days": 3})
    assert both.status_code == 400 and both.json()["detail"]["field"] == "name"


def test_simulate_over_http_sends_nothing(api: TestClient, journey_home: JourneyHome) -> None:
    with journey_home.open() as platform:
        store_events(platform, EVENTS)
    answer = api.post(
        "/api/journeys/simulate", json={"definition": PLAIN, "days": 7, "now": NOW.isoformat()}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["entered"] == 7 and body["sent_nothing"] is True
    assert body["sends"][0]["would_send"] == 3
    api.post("/api/journeys", json=PLAIN)
    by_name = api.post(
        "/api/journeys/simulate", json={"name": "cart", "days": 7, "now": NOW.isoformat()}
    )
    assert by_name.json()["steps"] == body["steps"]


def test_reset_needs_journeys_operate_and_deletes_what_the_journey_made(
    journey_home: JourneyHome,
) -> None:
    with journey_home.open() as platform:
        tokens = {}
        for role in ("marketer", "approver"):
            email = f"{role}@shop.example"
            platform.users.create(email, role=role, actor="test")
            tokens[role] = platform.users.create_token(email, name="t", actor="test")["token"]
        platform.journeys.create(CART, actor="marketer@shop.example")
        journey_id = platform.journeys.store.require("cart").id
        add_enrolment(platform.opstore, journey_id, "p_1")
    with TestClient(create_app(journey_home.settings)) as client:
        # An approver signs versions off; deleting a journey is an operator's move.
        denied = client.post("/api/journeys/cart/reset", headers=bearer(tokens["approver"]))
        assert denied.status_code == 403
        assert denied.json()["detail"]["permission"] == "journeys:operate"
        done = client.post("/api/journeys/cart/reset", headers=bearer(tokens["marketer"]))
        assert done.status_code == 200, done.text
        assert done.json() == {
            "journey": "cart",
            "deleted": {"messages": 0, "steps": 0, "enrolments": 1, "versions": 1},
        }
        again = client.post("/api/journeys/cart/reset", headers=bearer(tokens["marketer"]))
        assert again.status_code == 404 and "no journey named 'cart'" in again.text
