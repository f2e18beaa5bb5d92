"""`omni jobs` on an installation: list the jobs, run one, see its history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from omnichannel.cli import app
from omnichannel.platform import Platform

# The commands run in this process: what they do is under test, not process start-up.
from tests.cli.run import omni_in_process as omni
from tests.profiles.support import T0, add_events, add_identities

runner = CliRunner()


def _omni(home: Path, *args: str) -> Any:
    result = runner.invoke(app, ["--home", str(home), *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_run_a_job_then_find_it_in_the_list_and_the_history(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Platform.open(home) as platform, platform.warehouse.writer() as wh:
        add_identities(wh, ["u1"])
        add_events(wh, [{"user": "u1", "at": T0}])
    run = _omni(home, "jobs", "run", "profiles")
    assert run["status"] == "succeeded" and run["rows"] == 1 and run["trigger"] == "manual"
    listed = {job["name"]: job for job in _omni(home, "jobs", "list")}
    assert listed["profiles"]["last_run"]["id"] == run["id"]
    assert listed["linkage"]["every_seconds"] is None
    [recent] = _omni(home, "jobs", "runs", "profiles")
    assert recent["id"] == run["id"] and recent["detail"]["build"] == "built"


def test_an_unknown_job_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Platform.open(home).warehouse  # noqa: B018 - creates the installation
    result = omni("jobs", "run", "profile", home=home, check=False)
    assert result.returncode == 1
    assert "job='profile' is not accepted: expected one of " in result.stderr
    named = result.stderr.split("expected one of ", 1)[1]
    for job in ("identity", "ingest", "linkage", "profiles", "segments", "audiences", "inbox"):
        assert job in named
