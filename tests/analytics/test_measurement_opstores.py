"""Measurement's operational-store half on SQLite and PostgreSQL: an experiment's exposures,
its reading with the uplift per segment, its stop and conclusion with their audit entries,
and the alerts' open/resolve, list and acknowledge queries (the warehouse stays DuckDB).

One warehouse (``alert_world.py``'s business, identity resolved) is built per module and
copied per test; the opstore is a fresh SQLite file or a fresh database on the tests'
private PostgreSQL cluster (``opstore_url``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.access.audit import entries
from omnichannel.config import Settings
from omnichannel.errors import ConflictError, ValidationError
from omnichannel.platform import Platform
from tests.analytics.alert_world import A0, AS_OF, SHOPPERS, build_alert_world
from tests.analytics.test_alerts import RULES

EXPERIMENT = {
    "name": "checkout-copy",
    "variants": [{"name": "plain"}, {"name": "urgent"}],
    "metric": {"kind": "conversion", "event": "Order Completed", "within_days": 30},
    "guardrails": [{"kind": "revenue", "within_days": 60}],
}
CONVERTERS = set(SHOPPERS[:10])  # alert_world: f0..f9 complete their checkouts
EARLY = SHOPPERS[:6]  # members of segment "early" since before the exposures


@pytest.fixture(scope="module")
def warehouse_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("measure-opstores") / "home"
    with Platform.open(home) as platform, platform.warehouse.writer() as wh:
        build_alert_world(wh)
        pi = wh.table("profile_identifiers")
        found = pi.filter(pi.id_type == "user_id", pi.id_value.isin(EARLY)).to_pyarrow()
        profiles = found["profile_id"].to_pylist()
        wh.append(
            "segment_memberships",
            pa.table(
                {
                    "segment": ["early"] * len(profiles),
                    "profile_id": profiles,
                    "entered_at": [A0 - timedelta(days=3)] * len(profiles),
                    "exited_at": pa.nulls(len(profiles), pa.timestamp("us")),
                    "version": [1] * len(profiles),
                    "reason": ["refresh"] * len(profiles),
                    "evaluated_at": [A0 - timedelta(days=3)] * len(profiles),
                }
            ),
        )
    return home


@pytest.fixture
def platform(warehouse_home: Path, tmp_path: Path, opstore_url: str) -> Iterator[Platform]:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(warehouse_home / "omni.duckdb", home / "omni.duckdb")
    with Platform(Settings(home=home, opstore_url=opstore_url)) as opened:
        yield opened


def test_an_experiment_reads_its_exposures_and_uplift_per_segment(platform: Platform) -> None:
    experiments = platform.experiments
    experiments.create(EXPERIMENT, actor="ana@shop.example")
    # Persons given as user ids (the analysis finds their profiles), exposed at A0.
    arm = {u: experiments.assign("checkout-copy", u, now=A0)["variant"] for u in SHOPPERS}
    again = {u: experiments.assign("checkout-copy", u)["variant"] for u in SHOPPERS}
    assert arm == again and set(arm.values()) == {"plain", "urgent"}
    result = experiments.analyse("checkout-copy", segments=["early"])
    assert result["units"] == len(SHOPPERS)
    assert {v["name"]: v["units"] for v in result["variants"]} == {
        name: sum(1 for a in arm.values() if a == name) for name in ("plain", "urgent")
    }
    test = result["metrics"][0]["comparisons"][0]["test"]
    converted = {
        name: sum(1 for u, a in arm.items() if a == name and u in CONVERTERS)
        for name in ("plain", "urgent")
    }
    assert (test["control"]["converted"], test["treatment"]["converted"]) == (
        converted["plain"],
        converted["urgent"],
    )
    # Uplift per segment: the early members (profiles) matched from their user ids.
    split = {s["membership"]: s["units"] for s in result["segments"]}
    assert split == {"in": len(EARLY), "out": len(SHOPPERS) - len(EARLY)}


def test_stopping_and_concluding_an_experiment_is_shown_and_audited(platform: Platform) -> None:
    experiments = platform.experiments
    experiments.create(EXPERIMENT, actor="ana@shop.example")
    first = {u: experiments.assign("checkout-copy", u)["variant"] for u in SHOPPERS[:8]}
    stopped = experiments.stop("checkout-copy", actor="li@shop.example")
    assert (stopped["status"], stopped["winner"], stopped["stopped_by"]) == (
        "stopped",
        None,
        "li@shop.example",
    )
    # Stopped: the same variants, no new exposure recorded.
    late = experiments.assign("checkout-copy", SHOPPERS[9])
    assert late["recorded"] is False
    assert {u: experiments.assign("checkout-copy", u)["variant"] for u in first} == first
    with pytest.raises(ConflictError, match="give a winner to conclude it"):
        experiments.stop("checkout-copy", actor="li@shop.example")
    with pytest.raises(ValidationError) as bad:
        experiments.stop("checkout-copy", winner="loud", actor="li@shop.example")
    assert bad.value.field == "winner" and "plain, urgent" in str(bad.value)
    concluded = experiments.stop("checkout-copy", winner="urgent", actor="li@shop.example")
    assert concluded["winner"] == "urgent" and concluded["stopped_at"] == stopped["stopped_at"]
    # Concluded: everyone gets the winner; the reading keeps the exposures made while running.
    assert {experiments.assign("checkout-copy", u)["variant"] for u in SHOPPERS} == {"urgent"}
    listed = experiments.list()
    assert [(e["name"], e["status"], e["winner"]) for e in listed] == [
        ("checkout-copy", "stopped", "urgent")
    ]
    assert experiments.analyse("checkout-copy")["units"] == len(first)
    with pytest.raises(ConflictError, match="with winner 'urgent'"):
        experiments.stop("checkout-copy", winner="plain", actor="li@shop.example")
    log = entries(platform.opstore, target="experiment:checkout-copy")
    assert [(e["action"], e["actor"]) for e in log] == [
        ("experiment.stop", "li@shop.example"),
        ("experiment.stop", "li@shop.example"),
        ("experiment.create", "ana@shop.example"),
    ]
    assert log[0]["before"]["winner"] is None and log[0]["after"]["winner"] == "urgent"
    assert log[1]["before"]["status"] == "running" and log[1]["after"]["status"] == "stopped"
    assert log[2]["before"] is None and log[2]["after"]["definition"]["name"] == "checkout-copy"


def test_alerts_open_list_acknowledge_and_resolve(platform: Platform) -> None:
    alerts = platform.alerts
    alerts.save_rules(RULES, actor="test")
    loud = alerts.check(as_of=AS_OF["pixel_fires"], rules=["pixel"], notify=False)
    wasted = alerts.check(as_of=AS_OF["spend"], rules=["wasted"], notify=False)
    assert loud["errors"] == {} and wasted["errors"] == {}
    assert [a["subject"] for a in loud["opened"]] == ["web/Pixel Fired"]
    assert [a["subject"] for a in wasted["opened"]] == ["campaign=C-WASTE"]
    # Judged again while still out of range: the open alert is found, not a second one.
    again = alerts.check(as_of=AS_OF["pixel_fires"], rules=["pixel"], notify=False)
    assert again["opened"] == []
    open_now = alerts.list(state="open")
    assert [a["rule"] for a in open_now] == ["wasted", "pixel"]  # newest first
    assert [a["subject"] for a in alerts.list(rule="pixel")] == ["web/Pixel Fired"]
    acked = alerts.ack(wasted["opened"][0]["id"], actor="ann")
    assert acked["acknowledged_by"] == "ann" and acked["state"] == "open"
    back = alerts.check(as_of=AS_OF["pixel_quiet"], rules=["pixel"], notify=False)
    assert [a["id"] for a in back["resolved"]] == [loud["opened"][0]["id"]]
    assert [a["rule"] for a in alerts.list(state="open")] == ["wasted"]
    assert [a["rule"] for a in alerts.list(state="resolved")] == ["pixel"]
    log = entries(platform.opstore, action="alerts.")
    assert [e["action"] for e in log] == ["alerts.acknowledged", "alerts.rules_saved"]
