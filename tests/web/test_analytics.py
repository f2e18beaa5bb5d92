"""The Analytics pages and the report builder through the app, on the small demo home:
what each page shows against the library's own answer, every table's CSV, the drop-off
saved as a segment, reports built, shared and versioned, a viewer changing nothing,
Chinese labels, and every string of these pages translated."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

WEB = Path(__file__).resolve().parents[2] / "src" / "omnichannel" / "web"
STEPS = {"step": ["Product Viewed", "Product Added"]}


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _token_of(client: TestClient, email: str, role: str) -> dict[str, str]:
    made = client.post("/api/users", json={"email": email, "role": role, "password": "p" * 16})
    assert made.status_code == 201, made.text
    token = client.post(f"/api/users/{email}/tokens", json={"name": "tests"})
    assert token.status_code in (200, 201), token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


@pytest.fixture(scope="module")
def viewer(client: TestClient) -> dict[str, str]:
    return _token_of(client, "vic@shop.example", "viewer")


@pytest.fixture(scope="module")
def analyst(client: TestClient) -> dict[str, str]:
    return _token_of(client, "al@shop.example", "analyst")


def test_the_landing_page_links_every_analysis_and_lists_open_alerts(client: TestClient) -> None:
    page = client.get("/analytics")
    assert page.status_code == 200 and 'id="alerts"' in page.text
    for href in ("/analytics/funnels", "/analytics/retention", "/analytics/attribution"):
        assert f'href="{href}"' in page.text
    assert 'href="/analytics"' in client.get("/").text  # in the main navigation
    assert _csv(client.get("/analytics?format=csv").text) == []  # the demo opens none


def test_a_two_step_funnel_counts_as_the_library_and_exports(client: TestClient) -> None:
    page = client.get("/analytics/funnels", params={**STEPS, "by": "device"})
    assert page.status_code == 200
    assert 'id="funnel-chart"' in page.text and 'id="funnel-breakdown"' in page.text
    assert '<option value="Product Viewed" selected>' in page.text
    direct = client.post(
        "/api/analytics/funnels", json={"steps": STEPS["step"], "window": "7d", "by": ["device"]}
    ).json()
    rows = _csv(client.get("/analytics/funnels", params={**STEPS, "format": "csv"}).text)
    overall = [r for r in rows if r["group"] == "(all)"]
    assert [int(r["entered"]) for r in overall] == [
        s["entered"] for s in direct["overall"]["steps"]
    ]
    assert overall[0]["name"] == "Product Viewed" and overall[1]["median_seconds_from_previous"]
    marketing = client.get("/analytics/funnels", params={"preset": "marketing"})
    assert marketing.status_code == 200 and "exposure" in marketing.text


def test_a_bad_funnel_is_a_clear_answer(client: TestClient) -> None:
    page = client.get("/analytics/funnels", params={**STEPS, "window": "forever"})
    assert page.status_code == 400 and 'id="funnel-error"' in page.text
    assert "window" in page.text and "forever" in page.text


def test_the_drop_off_of_a_step_is_saved_as_a_segment(client: TestClient) -> None:
    page = client.get("/analytics/funnels", params=STEPS)
    document = re.search(r'name="document" value="([^"]+)"', page.text)
    assert document is not None
    import html

    doc = html.unescape(document.group(1))
    saved = client.post(
        "/analytics/funnels/dropoff",
        data={"document": doc, "step": "1", "segment": "viewed-not-added"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/segments/viewed-not-added"
    dropped = int(
        _csv(client.get("/analytics/funnels", params={**STEPS, "format": "csv"}).text)[0][
            "dropped_off"
        ]
    )
    segment = client.get("/api/segments/viewed-not-added").json()
    people = segment["definition"]["condition"]["trait"]["in"]
    assert 0 < len(people) <= dropped  # facts not yet resolved to a profile are left out


def test_retention_is_a_heatmap_of_cohorts(client: TestClient) -> None:
    page = client.get("/analytics/retention", params={"period": "month", "periods": "3"})
    assert page.status_code == 200 and 'id="retention-heatmap"' in page.text
    rows = _csv(client.get("/analytics/retention?period=month&periods=3&format=csv").text)
    assert rows and all(float(r["period_0"]) == 1.0 for r in rows if int(r["people"]))
    assert set(rows[0]) == {"cohort", "people", "period_0", "period_1", "period_2", "period_3"}


def test_attribution_models_side_by_side_with_the_lookback_picked(client: TestClient) -> None:
    params = {"model": ["first_touch", "markov"], "lookback_days": "14"}
    page = client.get("/analytics/attribution", params=params)
    assert page.status_code == 200 and 'id="attribution-chart"' in page.text
    assert '<option value="14" selected>' in page.text
    rows = _csv(client.get("/analytics/attribution", params={**params, "format": "csv"}).text)
    assert list(rows[0]) == ["channel", "first_touch", "markov"]
    api = client.get(
        "/api/analytics/attribution", params={"model": "first_touch", "lookback_days": 14}
    ).json()
    assert sum(float(r["first_touch"]) for r in rows) == pytest.approx(api["conversions"], 1e-3)


def test_kpis_per_channel_and_month_with_the_period_comparison(client: TestClient) -> None:
    page = client.get("/analytics/kpis", params={"kpi": ["revenue", "ctr"], "by": "channel"})
    assert page.status_code == 200 and 'id="kpis"' in page.text
    found = re.search(r'hx-get="(/analytics/kpis/compare\?[^"]+)"', page.text)
    assert found is not None  # the comparison loads in place
    import html

    fragment = client.get(html.unescape(found.group(1)))
    assert fragment.status_code == 200 and 'id="kpi-compare"' in fragment.text
    assert re.search(r"since=\d{4}-\d{2}-01", found.group(1))  # the latest month with data
    compared = _csv(
        client.get(
            "/analytics/kpis",
            params={
                "kpi": ["revenue", "ctr"],
                "by": "channel",
                "format": "csv",
                "table": "compare",
            },
        ).text
    )
    assert {r["kpi"] for r in compared} == {"revenue", "ctr"}
    assert any(r["significant"] in ("True", "False") for r in compared)
    per_month = _csv(
        client.get("/analytics/kpis", params={"kpi": ["revenue"], "format": "csv"}).text
    )
    assert {"channel", "period", "revenue"} <= set(per_month[0])
    bad = client.get("/analytics/kpis", params={"kpi": ["nope"]})
    assert bad.status_code == 400 and "nope" in bad.text


def test_an_experiment_shows_its_arms_and_the_journey_holdout_its_reading(
    client: TestClient,
) -> None:
    made = client.post(
        "/api/experiments",
        json={"document": {"name": "button", "variants": [{"name": "a"}, {"name": "b"}]}},
    )
    assert made.status_code == 201, made.text
    for person in ("u1", "u2", "u3", "u4"):
        client.post("/api/experiments/button/assignment", params={"person": person})
    listed = client.get("/analytics/experiments")
    assert 'href="/analytics/experiments/button"' in listed.text
    assert 'href="/analytics/experiments/journeys/win-back"' in listed.text
    arms = _csv(client.get("/analytics/experiments/button?format=csv").text)
    assert sum(int(a["units"]) for a in arms) == 4
    holdout = client.get("/analytics/experiments/journeys/win-back")
    assert holdout.status_code == 200 and 'id="srm"' in holdout.text
    assert "Always-valid reading" in holdout.text and "holdout" in holdout.text
    metrics = _csv(
        client.get("/analytics/experiments/journeys/win-back?format=csv&table=metrics").text
    )
    assert {m["role"] for m in metrics} == {"primary", "guardrail"}
    split = client.get("/analytics/experiments/journeys/win-back", params={"segment": "lapsing"})
    assert split.status_code == 200 and 'id="uplift"' in split.text and "not members" in split.text
    assert client.get("/analytics/experiments/nothing").status_code == 404


def test_build_preview_save_share_and_version_a_report(client: TestClient) -> None:
    form = {
        "title": "Revenue per channel",
        "kind": "kpi",
        "kpi": ["revenue", "deals"],
        "dimension": ["channel", "period"],
        "period": "month",
        "presentation": "bar",
        "action": "preview",
    }
    preview = client.post("/reports/new", data=form)
    assert preview.status_code == 200 and 'id="report-chart"' in preview.text
    assert 'id="report-table"' in preview.text
    saved = client.post("/reports/new", data={**form, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    page_url = saved.headers["location"]
    report_id = int(page_url.rsplit("/", 1)[1])
    page = client.get(page_url)
    assert page.status_code == 200 and "Revenue per channel" in page.text
    rows = _csv(client.get(page_url, params={"format": "csv"}).text)
    assert rows and list(rows[0]) == ["channel", "period", "revenue", "deals"]
    client.post("/api/reports/teams", json={"name": "growth"})
    shared = client.post(f"{page_url}/share", data={"team": "growth"}, follow_redirects=False)
    assert shared.status_code == 303
    assert client.get(f"/api/reports/{report_id}").json()["team"] == "growth"
    scheduled = client.post(
        f"{page_url}/schedule",
        data={"every": "week", "hour": "7", "weekday": "0"},
        follow_redirects=False,
    )
    assert scheduled.status_code == 303
    assert client.get(f"/api/reports/{report_id}").json()["schedule"]["every"] == "week"
    listed = _csv(client.get("/reports?format=csv").text)
    assert any(r["id"] == str(report_id) and r["team"] == "growth" for r in listed)
    bad = client.post("/reports/new", data={**form, "dimension": ["device"], "action": "save"})
    assert bad.status_code == 400 and "dimensions.0" in bad.text and "device" in bad.text


def test_a_viewer_reads_the_pages_and_changes_nothing(
    client: TestClient, viewer: dict[str, str]
) -> None:
    assert client.get("/analytics/funnels", params=STEPS, headers=viewer).status_code == 200
    assert client.get("/reports", headers=viewer).status_code == 200
    page = client.get("/analytics/funnels", params=STEPS, headers=viewer)
    assert "/analytics/funnels/dropoff" not in page.text  # no save buttons shown
    refused = [
        client.post("/analytics/funnels/dropoff", data={"step": "1"}, headers=viewer),
        client.post("/reports/new", data={"title": "x", "action": "save"}, headers=viewer),
        client.post(
            "/api/reports",
            json={"document": {"title": "x", "metric": {"kind": "kpi", "kpis": ["ctr"]}}},
            headers=viewer,
        ),
        client.post("/api/reports/teams", json={"name": "mine"}, headers=viewer),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]


def test_a_report_is_seen_by_its_owner_and_team_only(
    client: TestClient, analyst: dict[str, str], viewer: dict[str, str]
) -> None:
    doc = {"title": "Analyst's own", "metric": {"kind": "kpi", "kpis": ["revenue"]}}
    made = client.post("/api/reports", json={"document": doc}, headers=analyst)
    assert made.status_code == 201 and made.json()["owner"] == "al@shop.example"
    report_id = made.json()["id"]
    ids = [r["id"] for r in client.get("/api/reports", headers=viewer).json()]
    assert report_id not in ids
    assert client.get(f"/reports/{report_id}", headers=viewer).status_code == 404
    client.post("/api/reports/teams", json={"name": "insights"})
    client.post("/api/reports/teams/insights/members", json={"email": "vic@shop.example"})
    shared = client.put(
        f"/api/reports/{report_id}/share", json={"team": "insights"}, headers=analyst
    )
    assert shared.status_code == 200
    assert report_id in [r["id"] for r in client.get("/api/reports", headers=viewer).json()]
    assert client.get(f"/reports/{report_id}", headers=viewer).status_code == 200
    # A team member reads it; only its owner (or an admin) changes it.
    other = _token_of(client, "mo@shop.example", "marketer")
    client.post("/api/reports/teams/insights/members", json={"email": "mo@shop.example"})
    taken = client.put(f"/api/reports/{report_id}/share", json={"team": None}, headers=other)
    assert taken.status_code == 403 and "only its owner" in taken.text


def test_the_pages_speak_chinese_and_every_string_is_translated(client: TestClient) -> None:
    page = client.get("/analytics/funnels", params={**STEPS, "lang": "zh"})
    assert page.status_code == 200 and "漏斗" in page.text
    assert "报表" in client.get("/reports", params={"lang": "zh"}).text
    client.cookies.clear()
    with open(WEB / "locale" / "zh" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po)
    mine = [WEB / "pages" / "analytics.py", WEB / "pages" / "reports.py"]
    mine += sorted((WEB / "templates").glob("analytics*.html"))
    mine += sorted((WEB / "templates").glob("report*.html"))
    missing = []
    for path in mine:
        method = "python" if path.suffix == ".py" else "jinja2"
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        for _line, message, _comments, _context in extract_from_file(
            method, str(path), options=options
        ):
            msgid = message if isinstance(message, str) else message[0]
            entry = catalog.get(msgid)
            if entry is None or not entry.string:
                missing.append(f"{path.name}: {msgid}")
    assert missing == []
