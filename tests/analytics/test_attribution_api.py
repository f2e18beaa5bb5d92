"""``/api/analytics/attribution`` on a real ``omni serve``, and ``omni attribution`` through it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from omnichannel.cli.main import app as cli
from tests.support.collector import bearer, make_admin_token, running_server

pytestmark = pytest.mark.slow

TEXTBOOK = "path,conversions,value,nulls\nc1 > c2 > c3,1,10,0\nc1,0,0,1\nc2 > c3,0,0,1\n"


@pytest.fixture(scope="module")
def served(world_home: Path) -> Iterator[dict[str, Any]]:
    token = make_admin_token(world_home)
    with (
        running_server(world_home, timeout=120) as server,
        httpx.Client(base_url=server.url, headers=bearer(token), timeout=120) as http,
    ):
        yield {"http": http, "url": server.url, "home": world_home}


def test_attribution_needs_the_admin_token(served: dict[str, Any]) -> None:
    assert httpx.get(f"{served['url']}/api/analytics/attribution").status_code == 401


def test_warehouse_paths_over_http_and_the_cli_through_the_server(served: dict[str, Any]) -> None:
    http = served["http"]
    answer = http.get(
        "/api/analytics/attribution", params={"model": "last_touch", "lookback_days": 10}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    credited = {r["channel"]: r["conversions"] for r in body["channels"]}
    assert credited["direct"] == 2 and credited["offline_flyer"] == 1
    flyer = next(r for r in body["channels"] if r["channel"] == "offline_flyer")
    assert flyer["spend"] == 100 and flyer["roas"] == 0.8 and flyer["cpa"] == 100
    home = ["--home", str(served["home"])]
    shown = CliRunner().invoke(
        cli, [*home, "attribution", "--model", "last_touch", "--lookback-days", "10", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == body
    bad = http.get("/api/analytics/attribution", params={"model": "magic"})
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "model"


def test_posted_csv_and_json_path_counts(served: dict[str, Any]) -> None:
    http = served["http"]
    csv_answer = http.post(
        "/api/analytics/attribution/paths",
        params={"model": "markov"},
        content=TEXTBOOK,
        headers={"Content-Type": "text/csv"},
    )
    assert csv_answer.status_code == 200, csv_answer.text
    shares = {r["channel"]: r["conversions"] for r in csv_answer.json()["channels"]}
    assert shares == pytest.approx({"c1": 0.2, "c2": 0.4, "c3": 0.4})
    json_answer = http.post(
        "/api/analytics/attribution/paths",
        params={"model": "markov"},
        json={
            "paths": [
                {"path": ["c1", "c2", "c3"], "conversions": 1, "value": 10},
                {"path": "c1", "nulls": 1},
                {"path": "c2 > c3", "nulls": 1},
            ]
        },
    )
    assert json_answer.status_code == 200, json_answer.text
    assert json_answer.json()["channels"] == csv_answer.json()["channels"]


def test_a_bad_path_file_is_a_400_naming_the_field(served: dict[str, Any]) -> None:
    http = served["http"]
    post = "/api/analytics/attribution/paths"
    missing = http.post(post, content="path,value\na,1\n", headers={"Content-Type": "text/csv"})
    assert missing.status_code == 400
    assert missing.json()["detail"]["field"] == "paths: column conversions"
    sep = http.post(
        post, params={"sep": "|"}, content=TEXTBOOK, headers={"Content-Type": "text/csv"}
    )
    assert sep.status_code == 400 and sep.json()["detail"]["field"] == "sep"
    partly = http.post(
        post, content="path,conversions\na > b,1\nb,lots\n", headers={"Content-Type": "text/csv"}
    )
    assert partly.status_code == 200
    assert partly.json()["rejected"] == [
        {"line": 3, "field": "conversions", "value": "lots", "reason": "a number >= 0"}
    ]
    broken = http.post(post, content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["detail"]["field"] == "body"
