"""The /surveys page on the demo home: NPS with its interval by channel, store and
segment, before/after a change, free text, a CSV per table, Chinese, and a viewer who
reads it and changes nothing; every string of the survey pages translated."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from tests.support.catalogue import WEB, untranslated


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_the_page_shows_nps_with_its_interval_by_group_and_exports_each_table(
    client: TestClient,
) -> None:
    api = client.get("/api/surveys/store-nps/results", params={"by": "channel"}).json()
    assert api["overall"]["responded"] > 10  # the demo answered its survey
    page = client.get(
        "/surveys", params={"survey": "store-nps", "by": "channel", "change": "2000-01-01"}
    )
    assert page.status_code == 200
    assert 'id="survey-trend-chart"' in page.text and 'id="survey-groups"' in page.text
    assert "receipt" in page.text and "in_app" in page.text and "Confidence interval" in page.text
    groups = _rows(
        client.get(
            "/surveys", params={"survey": "store-nps", "by": "channel", "format": "csv"}
        ).text
    )
    assert {g["group"] for g in groups} == {"all", "in_app", "receipt"}
    overall = next(g for g in groups if g["group"] == "all")
    assert float(overall["value"]) == api["overall"]["value"]
    assert float(overall["low"]) < float(overall["value"]) < float(overall["high"])
    for table in ("trend", "text", "responses", "surveys"):
        exported = client.get(
            "/surveys", params={"survey": "store-nps", "table": table, "format": "csv"}
        )
        assert exported.status_code == 200 and _rows(exported.text), table
    by_store = client.get("/surveys", params={"survey": "store-nps", "by": "store"})
    assert by_store.status_code == 200 and "(none)" in by_store.text  # the app's answers


def test_chinese_and_a_viewer_reads_but_cannot_post(
    client: TestClient, viewer: dict[str, str]
) -> None:
    assert "问卷" in client.get("/surveys", params={"lang": "zh"}).text
    client.cookies.clear()
    assert client.get("/surveys", headers=viewer).status_code == 200
    # The page changes nothing; the changes behind it are refused to a viewer.
    created = client.post("/api/surveys", headers=viewer, json={"document": {}})
    assert created.status_code == 403
    sent = client.post("/api/surveys/store-nps/send", headers=viewer, json={"channel": "email"})
    assert sent.status_code == 403


def test_every_string_of_the_survey_pages_is_translated() -> None:
    mine = [WEB / "pages" / "surveys.py", WEB / "survey_answer.py"]
    mine += sorted((WEB / "templates").glob("survey*.html"))
    assert untranslated(*mine) == []


@pytest.fixture(scope="module")
def viewer(client: TestClient) -> dict[str, str]:
    email = "survey-viewer@shop.example"
    made = client.post("/api/users", json={"email": email, "role": "viewer", "password": "p" * 16})
    assert made.status_code == 201, made.text
    token = client.post(f"/api/users/{email}/tokens", json={"name": "tests"})
    return {"Authorization": f"Bearer {token.json()['token']}"}
