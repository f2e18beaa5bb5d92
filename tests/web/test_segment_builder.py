"""The segment builder through the app: its live estimate agrees with the library's preview,
errors come back at the condition they name, saves are versioned and audited under the
signed-in user, a viewer changes nothing; the list's trends and the segment's chart."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from typing import Any

from fastapi.testclient import TestClient

from omnichannel.segments.definition import json_schema
from tests.web.sessions import cheap_hashing, csrf, signed_in

__all__ = ["cheap_hashing"]  # the module's fixture, used by its tests through autouse

FREQUENT = {
    "condition": {
        "all": [
            {"trait": {"field": "orders", "gte": 1}},
            {"trait": {"field": "orders", "gte": 3}},
        ]
    }
}


def _estimate(client: TestClient, document: Any) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    answer = client.post("/segments/builder/preview", data={"document": text})
    assert answer.status_code == 200, answer.text
    return answer.text


def _attr(page: str, name: str) -> str:
    found = re.search(rf"{name}='([^']*)'" + "|" + rf'{name}="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1) or found.group(2) or "")


def test_the_builder_draws_from_the_languages_own_schema(client: TestClient) -> None:
    page = client.get("/segments/new")
    assert page.status_code == 200
    assert json.loads(_attr(page.text, "data-schema")) == json_schema()
    hints = json.loads(_attr(page.text, "data-hints"))
    assert "lapsing" in hints["segment"] and "rfm_segment" in hints["field"]
    assert 'hx-post="/segments/builder/preview"' in page.text
    edit = client.get("/segments/lapsing/edit")
    assert edit.status_code == 200 and json.loads(_attr(edit.text, "data-fixed")) == ["name"]
    assert '"name": "lapsing"' in html.unescape(edit.text)


def test_the_live_estimate_is_the_librarys_preview_with_each_conditions_size(
    client: TestClient,
) -> None:
    fragment = _estimate(client, FREQUENT)
    preview = client.post("/api/segments/preview", json={**FREQUENT, "sample": 0}).json()
    size = re.search(r'id="estimate-size">([\d,]+)<', fragment)
    assert size and int(size.group(1).replace(",", "")) == preview["size"]
    sizes = json.loads(_attr(fragment, "data-sizes"))
    assert {p: int(n.replace(",", "")) for p, n in sizes.items()} == {
        c["path"]: c["size"] for c in preview["conditions"]
    }
    assert preview["size"] > 0
    assert preview["size"] <= min(c["size"] for c in preview["conditions"])


def test_a_wrong_condition_is_named_at_its_path(client: TestClient) -> None:
    wrong = {
        "condition": {
            "all": [
                {"trait": {"field": "orders", "gte": 1}},
                {"event": {"name": "Order Completed", "count": {"at_least": "many"}}},
            ]
        }
    }
    fragment = _estimate(client, wrong)
    assert _attr(fragment, "data-error-path") == "condition.all[1].event.count.at_least"
    assert "&#39;many&#39; is not accepted" in fragment
    broken = _estimate(client, '{"condition": ')
    assert "expected a JSON object" in broken and _attr(broken, "data-error-path") == ""


def test_saving_creates_then_updates_versioned_and_audited_as_the_user(
    client: TestClient,
) -> None:
    marketer = signed_in(client, "mia@shop.example", "marketer")
    token = csrf(marketer, "/segments/new")
    document = {"name": "frequent", "description": "three orders", **FREQUENT}
    saved = marketer.post(
        "/segments/new",
        data={"csrf_token": token, "document": json.dumps(document)},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/segments/frequent"
    shown = client.get("/api/segments/frequent").json()
    assert shown["version"] == 1 and shown["created_by"] == "mia@shop.example"
    assert shown["members"] == client.post("/api/segments/preview", json=FREQUENT).json()["size"]

    refused = marketer.post(
        "/segments/frequent/edit",
        data={"csrf_token": token, "document": json.dumps({**document, "condition": {"tag": ""}})},
    )
    assert refused.status_code == 400
    assert 'data-error-path="condition.tag"' in refused.text
    assert "&#34;tag&#34;: &#34;&#34;" in refused.text  # the document as posted, to correct
    assert client.get("/api/segments/frequent").json()["version"] == 1

    changed = {**document, "condition": {"trait": {"field": "orders", "gte": 2}}}
    updated = marketer.post(
        "/segments/frequent/edit",
        data={"csrf_token": token, "document": json.dumps(changed)},
        follow_redirects=False,
    )
    assert updated.status_code == 303
    assert client.get("/api/segments/frequent").json()["version"] == 2
    audit = client.get("/api/audit", params={"target": "segment:frequent"}).json()
    actions = [(r["action"], r["actor"]) for r in audit]
    assert ("segment.create", "mia@shop.example") in actions
    assert ("segment.update", "mia@shop.example") in actions


def test_a_viewer_sees_segments_and_changes_nothing(client: TestClient) -> None:
    viewer = signed_in(client, "vic@shop.example", "viewer")
    listed = viewer.get("/segments")
    assert listed.status_code == 200 and 'id="new-segment"' not in listed.text
    assert 'id="edit-segment"' not in viewer.get("/segments/lapsing").text
    assert viewer.get("/segments/new").status_code == 403
    assert viewer.get("/segments/lapsing/edit").status_code == 403
    token = csrf(viewer, "/segments")
    document = json.dumps({"name": "by-viewer", **FREQUENT})
    made = viewer.post("/segments/new", data={"csrf_token": token, "document": document})
    assert made.status_code == 403
    edit = viewer.post("/segments/lapsing/edit", data={"csrf_token": token, "document": document})
    assert edit.status_code == 403
    assert client.get("/api/segments/by-viewer").status_code == 404
    # Sizing a definition changes nothing: a viewer may.
    assert (
        viewer.post(
            "/segments/builder/preview", data={"csrf_token": token, "document": document}
        ).status_code
        == 200
    )


def test_the_list_has_a_trend_per_segment_and_the_segment_page_its_chart(
    client: TestClient,
) -> None:
    page = client.get("/segments")
    assert page.status_code == 200 and page.text.count('class="sparkline"') >= 1
    rows = list(
        csv.DictReader(io.StringIO(client.get("/segments?format=csv").text.lstrip("\ufeff")))
    )
    lapsing = next(r for r in rows if r["name"] == "lapsing")
    trend = json.loads(lapsing["trend"])
    assert len(trend) == 30 and trend[-1] == int(lapsing["members"])

    answer = client.get("/api/segments/lapsing/trend", params={"days": 7}).json()
    points = answer["points"]
    assert len(points) == 7 and answer["to"] == points[-1]["day"]
    assert points[-1]["members"] == client.get("/api/segments/lapsing").json()["members"]
    moved = sum(p["entered"] - p["exited"] for p in points[1:])
    assert points[-1]["members"] - points[0]["members"] == moved
    bad = client.get("/api/segments/lapsing/trend", params={"days": 0})
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "days"

    shown = client.get("/segments/lapsing")
    assert 'id="segment-trend"' in shown.text
    exported = client.get("/segments/lapsing", params={"format": "csv", "table": "trend"})
    assert exported.text.lstrip("\ufeff").startswith("day,members,entered,exited")
