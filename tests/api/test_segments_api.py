"""``/api/segments`` on a real ``omni serve``: save, preview, list, explain, export, delete.

The installation is ``tests/segments/audience.py`` (six people, one order event a day
apart from 2026-03-02; bob refused ads).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.collector import bearer, make_admin_token, running_server
from tests.support.homes import audience_home

pytestmark = pytest.mark.slow

EARLY = {
    "description": "ordered in the first day and a half",
    "condition": {
        "event": {
            "name": "Order Completed",
            "within": {"between": ["2026-03-01", "2026-03-03T12:00:00"]},
        }
    },
}
ALL_BUYERS = {"event": {"name": "Order Completed", "count": {"at_least": 1}}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("segments_api") / "home"
    profile_of = audience_home(tmp_path_factory, home)
    token = make_admin_token(home)
    with (
        running_server(home, timeout=120) as server,
        httpx.Client(base_url=server.url, headers=bearer(token), timeout=120) as http,
    ):
        yield {"http": http, "url": server.url, "profile_of": profile_of}


def _create(http: httpx.Client, name: str, **doc: Any) -> dict[str, Any]:
    response = http.post("/api/segments", json={"name": name, **(doc or EARLY)})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_segments_need_the_admin_token(world: dict[str, Any]) -> None:
    assert httpx.get(f"{world['url']}/api/segments").status_code == 401


def test_save_list_show_update_and_delete(world: dict[str, Any]) -> None:
    http = world["http"]
    created = _create(http, "early")
    assert created["version"] == 1 and created["members"] == 2
    assert created["refresh"]["entered"] == 2
    listed = {s["name"]: s["members"] for s in http.get("/api/segments").json()}
    assert listed["early"] == 2
    shown = http.get("/api/segments/early").json()
    event = shown["definition"]["condition"]["event"]  # as stored: normalised
    assert event["name"] == "Order Completed"
    assert event["within"]["between"] == ["2026-03-01T00:00:00", "2026-03-03T12:00:00"]
    updated = http.put("/api/segments/early", json={"condition": ALL_BUYERS})
    assert updated.status_code == 200 and updated.json()["version"] == 2
    assert updated.json()["members"] == 6
    again = http.post("/api/segments/early/refresh").json()
    assert again[0]["members"] == 6 and again[0]["entered"] == 0
    assert http.delete("/api/segments/early").json() == {"deleted": "early", "version": 2}
    gone = http.get("/api/segments/early")
    assert (
        gone.status_code == 404 and "no segment named 'early'" in gone.json()["detail"]["message"]
    )


def test_errors_name_what_is_wrong(world: dict[str, Any]) -> None:
    http = world["http"]
    bad = {"name": "bad", "condition": {"event": {"name": "x", "count": {"at_least": -1}}}}
    refused = http.post("/api/segments", json=bad)
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert detail["field"] == "condition.event.count.at_least" and detail["value"] == "-1"
    _create(http, "taken")
    assert http.post("/api/segments", json={"name": "taken", **EARLY}).status_code == 409
    _create(http, "taken-too", condition={"segment": "taken"})
    blocked = http.delete("/api/segments/taken")
    assert blocked.status_code == 409 and "taken-too" in blocked.json()["detail"]["message"]
    assert http.get("/api/segments/nobody/members").status_code == 404
    fmt = http.get("/api/segments/taken/export", params={"format": "tiktok"})
    assert fmt.status_code == 400 and fmt.json()["detail"]["field"] == "format"
    assert http.put("/api/segments/nobody", json={"condition": ALL_BUYERS}).status_code == 404


def test_preview_members_and_explain(world: dict[str, Any]) -> None:
    http, profile_of = world["http"], world["profile_of"]
    preview = http.post("/api/segments/preview", params={"sql": "true"}, json=EARLY)
    assert preview.status_code == 200, preview.text
    assert preview.json()["size"] == 2 and "SELECT" in preview.json()["sql"]
    assert "preview" not in {s["name"] for s in http.get("/api/segments").json()}
    _create(http, "early-m")
    members = http.get("/api/segments/early-m/members", params={"limit": 1}).json()
    assert members["total"] == 2
    assert members["profile_ids"] == [min(profile_of["ann"], profile_of["bob"])]
    why = http.get("/api/segments/early-m/explain", params={"profile": profile_of["fay"]})
    assert why.status_code == 200 and why.json()["why"]["member"] is False
    assert "SELECT" in why.json()["sql"]


def test_export_is_a_csv_file_with_who_was_left_out_in_its_headers(world: dict[str, Any]) -> None:
    http = world["http"]
    _create(http, "early-x")
    response = http.get("/api/segments/early-x/export", params={"format": "google"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:2] == ["Email", "Phone"] and len(rows) == 2
    assert rows[1][0] == hashlib.sha256(b"johnsmith@gmail.com").hexdigest()
    assert json.loads(response.headers["x-omni-left-out"]) == {"ads consent denied": 1}
    assert response.headers["x-omni-members"] == "2"
    plain = http.get("/api/segments/early-x/export", params={"columns": "events"})
    assert plain.text.splitlines()[0] == "profile_id,events"
