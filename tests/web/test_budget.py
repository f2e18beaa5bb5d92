"""The budget page through the app on the small demo home: it says how to get a model, then
shows the split the API answers, every table exports, a viewer changes nothing, a plan
saved from the page is audited as its user, and every string is translated."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from tests.support.catalogue import WEB, untranslated
from tests.web.sessions import cheap_hashing, csrf, signed_in

__all__ = ["cheap_hashing"]

CURVES = [
    ("search", 0.3, 120, 1.0, 1.5),
    ("social", 0.4, 150, 1.2, 1.2),
    ("video", 0.5, 200, 2.0, 1.8),
]
MODEL = {
    "target": "orders",
    "period": "day",
    "baseline_per_period": 2.0,
    "value_per_unit": 400.0,
    "curves": [
        {"channel": c, "decay": d, "half": h, "shape": s, "top": t} for c, d, h, s, t in CURVES
    ],
}


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.mark.slow(seconds=10)
def test_the_budget_page_from_no_model_to_a_saved_plan(client: TestClient) -> None:
    empty = client.get("/budget")
    assert empty.status_code == 200 and 'id="no-model"' in empty.text
    assert "omni mmm fit" in empty.text and 'href="/budget"' in empty.text  # in the navigation
    assert client.post("/api/budget/model", json={"model": MODEL}).status_code == 200

    page = client.get("/budget", params={"total": "300", "total_1": "200", "total_2": "400"})
    assert page.status_code == 200
    for part in ("curves-chart", "split-chart", "split", "scenarios", "plan-form"):
        assert f'id="{part}"' in page.text, part
    direct = client.post("/api/budget/optimise", json={"total": 300}).json()
    split = {r["channel"]: r for r in _csv(client.get("/budget?total=300&format=csv").text)}
    for row in direct["channels"]:
        assert float(split[row["channel"]]["recommended"]) == row["recommended"]
    scenarios = _csv(client.get("/budget?total_1=200&total_2=400&format=csv&table=scenarios").text)
    assert [float(r["total"]) for r in scenarios] == [200.0, 400.0]
    assert float(scenarios[1]["effect"]) > float(scenarios[0]["effect"])
    curves = _csv(client.get("/budget?format=csv&table=curves").text)
    assert {r["channel"] for r in curves} == {"search", "social", "video"}

    viewer = signed_in(client, "vic.budget@shop.example", "viewer")
    seen = viewer.get("/budget")
    assert seen.status_code == 200 and 'id="split"' in seen.text
    assert 'id="plan-form"' not in seen.text
    token = csrf(viewer, "/budget")
    form = {"csrf_token": token, "total": "300", "starts": "2026-06-01", "ends": "2026-07-01"}
    assert viewer.post("/budget/plans", data=form, follow_redirects=False).status_code == 403
    assert client.get("/api/budget/plans").json() == []

    analyst = signed_in(client, "al.budget@shop.example", "analyst")
    form["csrf_token"] = csrf(analyst, "/budget")
    saved = analyst.post("/budget/plans", data={**form, "name": "June"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    plans = client.get("/api/budget/plans").json()
    assert [(p["name"], p["created_by"]) for p in plans] == [("June", "al.budget@shop.example")]
    audit = client.get("/api/audit", params={"target": f"budget_plan:{plans[0]['id']}"}).json()
    assert [(r["action"], r["actor"]) for r in audit] == [("budget.plan", "al.budget@shop.example")]
    listed = _csv(client.get("/budget?format=csv&table=plans").text)
    assert [r["name"] for r in listed] == ["June"]
    bad = analyst.post("/budget/plans", data={**form, "ends": "2026-05-01"})
    assert bad.status_code == 200 and 'id="plan-error"' in bad.text and "ends=" in bad.text
    chinese = client.get("/budget?lang=zh").text
    # The period is a word of the sentence: in Chinese "每日", not "每day".
    sentence = chinese.split("响应模型")[1][:40]
    assert "预算" in chinese and "每日" in sentence and "day" not in sentence
    # So is the target: "订单", not "orders".
    assert "订单" in sentence and "orders" not in sentence


def test_every_string_of_the_budget_page_is_in_the_chinese_catalogue() -> None:
    assert untranslated(WEB / "pages" / "budget.py", WEB / "templates" / "budget.html") == []
