"""benchmarks/scale_curve.py's pipeline at a tiny scale, so the 10x script cannot rot: the
generated files go through every stage of our code, and each stage's answer matches the
hand-written baseline's (the figures themselves are the script's, not the test's)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("scale_curve", ROOT / "benchmarks/scale_curve.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("scale_curve", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow(seconds=20)
def test_every_stage_agrees_with_its_baseline_at_a_tiny_scale(tmp_path: Path) -> None:
    curve = _script()
    people, events = curve.sizes(0.002)
    data, home = tmp_path / "data", tmp_path / "home"
    with duckdb.connect() as con:
        curve.generate(data, people, events, con)
    answers = {}
    for stage in curve.STAGES:
        ours = curve.run_stage(stage, home, data, "1GB")
        answers[stage] = (ours, curve.run_baseline(stage, home, data, "1GB"))
    ours, base = answers["ingest"]
    assert ours["events"] == base["events"] == events
    assert ours["crm"]["customer_records"] == people
    # Every person is one profile: the CRM record, its user id and its identified cookies.
    assert answers["identity"][0]["profiles"] == answers["identity"][1]["profiles"] == people
    assert answers["profiles"][0]["profiles"] == people
    ours, base = answers["segment"]
    assert ours == base and 0 < ours["members"] < people
    ours, base = answers["funnel"]
    assert ours == base and ours["entered"][0] > ours["entered"][-1] > 0


def test_a_stage_run_apart_reports_its_time_memory_and_answer(tmp_path: Path) -> None:
    curve = _script()
    data = tmp_path / "data"
    with duckdb.connect() as con:
        curve.generate(data, 10, 1000, con)
    args = ["--home", str(tmp_path / "home"), "--data", str(data), "--memory-limit", "1GB"]
    run = curve.measured(["--baseline", "ingest", *args], guard_gb=4.0)
    assert run["exit"] == 0 and not run["killed_at_guard"]
    assert run["answer"] == {"events": 1000}
    assert run["seconds"] > 0 and run["peak_rss_gb"] > 0
