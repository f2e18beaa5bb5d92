"""On the demo retailer: every person gets a profile, and peak hours match the truth."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from omnichannel.demo import DemoConfig
from omnichannel.identity import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import Warehouse
from tests.support.demo import demo_warehouse


def _person_of_profile(wh: Warehouse, truth: Path) -> dict[str, str]:
    """Each profile's person: the truth's owner of most of its records."""
    records = pq.read_table(truth / "records.parquet").to_pylist()
    owner = {(r["source"], r["record_id"]): r["person_id"] for r in records}
    votes: dict[str, Counter[str]] = {}
    for r in wh.table("record_profiles").to_pyarrow().to_pylist():
        person = owner.get((r["source"], r["record_id"]))
        if person is not None:
            votes.setdefault(r["profile_id"], Counter())[person] += 1
    return {p: c.most_common(1)[0][0] for p, c in votes.items()}


@pytest.mark.slow
def test_demo_peak_hours_match_the_truth(
    warehouse_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    truth = tmp_path / "truth"
    demo_warehouse(tmp_path_factory, DemoConfig(seed=11, people=600, days=45), warehouse_url, truth)
    with Warehouse.open(warehouse_url) as wh:
        resolve(wh, full=True)
        report = build_profiles(wh)
        person_of = _person_of_profile(wh, truth)
        p = wh.table("profiles")
        rows = p.filter(p.events >= 15).to_pyarrow().to_pylist()
    assert report.status == "built"
    assert report.clv["error"] is None
    assert sum(report.segments.values()) == report.profiles
    peak = {
        r["person_id"]: r["peak_hour"] for r in pq.read_table(truth / "people.parquet").to_pylist()
    }

    def close(a: int, b: int) -> bool:
        return min((a - b) % 24, (b - a) % 24) <= 1

    checked = [(r["peak_hour"], peak[person_of[r["profile_id"]]]) for r in rows]
    hits = sum(close(ours, true) for ours, true in checked)
    assert len(checked) > 100
    # Measured: see docs/profiles.md. Within one hour of the planted peak for most people
    # with 15+ events (a person's events are a few sessions, each a burst at one hour).
    assert hits / len(checked) > 0.6, (hits, len(checked))
    for r in rows[:50]:
        assert len(json.loads(r["active_hours"])) == 168
        assert 0.0 <= (r["p_alive"] if r["p_alive"] is not None else 0.0) <= 1.0
