"""Experiments on a real demo home: the win-back holdout, an experiment's exposures, and
``omni experiments`` locally and through a real ``omni serve``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from omnichannel.access.audit import entries as audit_entries
from omnichannel.cli.main import app as cli
from omnichannel.journeys.stats import journey_stats
from omnichannel.platform import Platform
from tests.support.collector import bearer, make_admin_token, running_server
from tests.support.homes import small_demo_home

pytestmark = pytest.mark.slow

EXPERIMENT = {
    "name": "subject-line",
    "variants": [{"name": "plain"}, {"name": "emoji"}],
    "metric": {"kind": "conversion", "within_days": 30},
    "guardrails": [{"kind": "revenue", "within_days": 30}],
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("experiments") / "home"
    small_demo_home(tmp_path_factory, target)
    return target


def test_win_back_holdout_read_with_the_experiment_machinery(home: Path) -> None:
    with Platform.open(home) as platform:
        result = platform.experiments.analyse(journey="win-back")
        stored = platform.journeys.store.require("win-back")
        counts = journey_stats(platform.opstore, stored)["conversion"]
    variants = {v["name"]: v["units"] for v in result["variants"]}
    assert variants == {
        "holdout": counts["holdout"]["entered"],
        "treated": counts["treated"]["entered"],
    }
    assert result["control"] == "holdout" and result["srm"]["p_value"] is not None
    primary = result["metrics"][0]["comparisons"][0]
    assert primary["variant"] == "treated" and primary["sequential"]["method"] == "msprt"
    assert primary["test"]["control"]["n"] == variants["holdout"]


def test_an_experiment_assigns_stickily_records_exposures_and_reads_them(home: Path) -> None:
    with Platform.open(home) as platform:
        platform.experiments.create(EXPERIMENT)
        people = platform.segments.members("lapsing", limit=60)["profile_ids"]
        first = [platform.experiments.assign("subject-line", p)["variant"] for p in people]
        again = [platform.experiments.assign("subject-line", p)["variant"] for p in people]
        shown = platform.experiments.show("subject-line")
        result = platform.experiments.analyse("subject-line")
    assert first == again and set(first) == {"plain", "emoji"}
    assert sum(shown["exposures"].values()) == len(people) == result["units"]
    assert [m["role"] for m in result["metrics"]] == ["primary", "guardrail"]


def test_cli_locally_and_through_the_server_and_bad_input(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    local = runner.invoke(
        cli, ["--home", str(home), "experiments", "analyse", "--journey", "win-back", "--json"]
    )
    assert local.exit_code == 0, local.output
    token = make_admin_token(home)
    with (
        running_server(home, timeout=120) as server,
        httpx.Client(base_url=server.url, headers=bearer(token), timeout=120) as http,
    ):
        remote = runner.invoke(
            cli, ["--home", str(home), "experiments", "analyse", "--journey", "win-back", "--json"]
        )
        assert remote.exit_code == 0, remote.output
        assert json.loads(remote.output) == json.loads(local.output)
        bad = http.post(
            "/api/experiments", json={"document": {"name": "x", "variants": [{"name": "a"}]}}
        )
        assert bad.status_code == 400 and bad.json()["detail"]["field"] == "variants"
        peek = http.get("/api/experiments/subject-line/assignment", params={"person": "p-1"})
        assert peek.status_code == 200 and peek.json()["recorded"] is False
        assert httpx.get(f"{server.url}/api/experiments").status_code == 401
        wrong = http.post("/api/experiments/subject-line/stop", json={"winner": "bold"})
        assert wrong.status_code == 400 and wrong.json()["detail"]["field"] == "winner"
        stop = ["--home", str(home), "experiments", "stop", "subject-line", "--winner", "emoji"]
        stopped = runner.invoke(cli, [*stop, "--actor", "ana@shop.example", "--json"])
        assert stopped.exit_code == 0, stopped.output
        assert json.loads(stopped.output)["winner"] == "emoji"
        assert http.post("/api/experiments/subject-line/stop").status_code == 409
        shown = runner.invoke(cli, ["--home", str(home), "experiments", "show", "subject-line"])
        assert (
            shown.exit_code == 0 and "emoji" in shown.output and "ana@shop.example" in shown.output
        )
    with Platform.open(home) as platform:
        stops = audit_entries(platform.opstore, action="experiment.stop")
    assert [(e["actor"], e["after"]["winner"]) for e in stops] == [("ana@shop.example", "emoji")]
