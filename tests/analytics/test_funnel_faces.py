"""``platform.funnels`` / ``platform.retention``, ``omni funnel`` / ``omni retention`` and
``/api/analytics/funnels`` on ``funnel_world``'s installation: the drop-off saved as a
segment of exactly those people, the marketing preset, bad input as errors naming the
field, and the CLI through a running server answering what the library answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from omnichannel.cli.main import app as cli
from omnichannel.errors import ValidationError
from omnichannel.platform import Platform
from tests.analytics.funnel_world import STEPS, build_funnel_world, profile_of
from tests.support.collector import bearer, make_admin_token, running_server

STEP_NAMES = "Product Viewed,Product Added,order"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("funnel-faces") / "home"
    with Platform.open(home) as platform:
        with platform.warehouse.writer() as wh:
            build_funnel_world(wh)
        platform.profiles.build()
    return home


def test_dropoff_lists_and_saves_exactly_the_people_who_fell_out(home: Path) -> None:
    with Platform.open(home) as platform:
        with platform.warehouse.reader() as wh:
            ids = profile_of(wh)
        dropped = platform.funnels.dropoff({"steps": STEPS}, step=1, save_segment="left-at-view")
        # cat (added before viewing) and dan (added after the window) stop at the view.
        assert dropped["people"] == 2
        assert {r["person"] for r in dropped["listed"]} == {ids["cat"], ids["dan"]}
        assert dropped["segment"]["members"] == 2
        members = platform.segments.members("left-at-view")
        assert set(members["profile_ids"]) == {ids["cat"], ids["dan"]}
        with pytest.raises(ValidationError) as caught:
            platform.funnels.dropoff({"steps": STEPS}, step=3)
        assert caught.value.field == "step"


def test_the_marketing_preset_runs_on_the_installation(home: Path) -> None:
    with Platform.open(home) as platform:
        result = platform.funnels.marketing()
    assert result["step_names"] == ["exposure", "click", "visit", "purchase"]
    assert result["by"] == ["campaign", "channel"] and result["entry"] == "breakdown"


def test_omni_funnel_and_retention_on_the_installation(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    at = ["--home", str(home)]
    shown = runner.invoke(cli, [*at, "funnel", "run", "--steps", STEP_NAMES, "--json"])
    assert shown.exit_code == 0, shown.output
    assert [s["entered"] for s in json.loads(shown.output)["overall"]["steps"]] == [4, 2, 1]
    file = tmp_path / "f.yaml"
    file.write_text("steps: [Product Viewed, Product Added]\nwindow: 2d\n")
    table = runner.invoke(cli, [*at, "funnel", "run", str(file), "--by", "channel"])
    assert table.exit_code == 0 and "channel=app" in table.output
    sql = runner.invoke(cli, [*at, "funnel", "run", "--steps", STEP_NAMES, "--sql"])
    assert sql.exit_code == 0 and "SELECT" in sql.output
    cohorts = runner.invoke(
        cli, [*at, "retention", "--start", "Product Viewed", "--period", "day", "--json"]
    )
    assert cohorts.exit_code == 0, cohorts.output
    assert json.loads(cohorts.output)["people"] == 4
    bad = runner.invoke(cli, [*at, "funnel", "run", "--steps", STEP_NAMES, "--window", "soon"])
    assert isinstance(bad.exception, ValidationError) and bad.exception.field == "window"


@pytest.fixture(scope="module")
def served(home: Path) -> Iterator[dict[str, Any]]:
    token = make_admin_token(home)
    with (
        running_server(home, timeout=120) as server,
        httpx.Client(base_url=server.url, headers=bearer(token), timeout=120) as http,
    ):
        yield {"http": http, "url": server.url, "home": home}


@pytest.mark.slow
def test_the_api_and_the_cli_through_the_server(served: dict[str, Any]) -> None:
    http = served["http"]
    assert httpx.post(f"{served['url']}/api/analytics/funnels", json={}).status_code == 401
    answer = http.post("/api/analytics/funnels", json={"steps": STEPS, "by": "channel"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [s["entered"] for s in body["overall"]["steps"]] == [4, 2, 1]
    shown = CliRunner().invoke(
        cli,
        ["--home", str(served["home"]), "funnel", "run", "--steps", STEP_NAMES, "--by", "channel",
         "--json"],
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["overall"] == body["overall"]
    bad = http.post("/api/analytics/funnels", json={"steps": ["A", {"evnt": "B"}]})
    assert bad.status_code == 400 and bad.json()["detail"]["field"] == "steps[1].evnt"
    dropped = http.post("/api/analytics/funnels/dropoff", params={"step": 2}, json={"steps": STEPS})
    assert dropped.status_code == 200 and dropped.json()["people"] == 1
    cohorts = http.post("/api/analytics/retention", json={"start": {"order": {}}})
    assert cohorts.status_code == 200 and cohorts.json()["people"] == 2
