"""``platform.journeys.stats``: counts per step and branch, exits, conversions, holdout vs treated.

Enrolments and executed steps are written as the engine writes them (rows of
``journey_enrolments`` and ``journey_steps``), so the counts are checked on known data.
"""

from __future__ import annotations

import pytest

from omnichannel.opstore.models import EnrolmentState
from omnichannel.platform import Platform
from tests.journeys.conftest import JourneyHome
from tests.journeys.o_support import CART, add_enrolment, add_step

DONE = EnrolmentState.COMPLETED
EXITED = EnrolmentState.EXITED


def test_counts_per_step_branch_and_exit(platform: Platform) -> None:
    platform.journeys.create(CART, actor="ana")
    journey = platform.journeys.store.require("cart").id
    store = platform.opstore
    bought = add_enrolment(store, journey, "p1", state=EXITED, exit_reason="goal", converted=True)
    reminded = add_enrolment(
        store, journey, "p2", state=EXITED, exit_reason="exit_step", arm="remind"
    )
    held = add_enrolment(store, journey, "p3", state=DONE, exit_reason="holdout", arm="holdout")
    add_enrolment(store, journey, "p4", state=EnrolmentState.WAITING, step="bought")
    for enrolment in (bought, reminded, held):
        add_step(store, journey, enrolment, 0, "wait-an-hour", "wait", "next")
    add_step(store, journey, bought, 1, "bought", "wait_for", "on_event")
    add_step(store, journey, reminded, 1, "bought", "wait_for", "on_timeout")
    add_step(store, journey, held, 1, "bought", "wait_for", "on_timeout")
    add_step(store, journey, reminded, 2, "split", "split", "remind")
    add_step(store, journey, held, 2, "split", "split", "holdout")
    add_step(store, journey, reminded, 3, "reminder", "send", "queued")
    add_step(store, journey, reminded, 4, "done", "exit", "exit_step")

    stats = platform.journeys.stats("cart")
    assert (stats["entered"], stats["in_flight"], stats["completed"], stats["exited"]) == (
        4,
        1,
        1,
        2,
    )
    assert stats["exit_reasons"] == {"goal": 1, "exit_step": 1, "holdout": 1}
    assert stats["converted"] == 1 and stats["conversion_rate"] == 0.25
    steps = {s["step"]: s for s in stats["steps"]}
    assert list(steps) == ["wait-an-hour", "bought", "done", "split", "reminder"]  # breadth first
    assert steps["wait-an-hour"]["executed"] == 3
    assert steps["bought"]["outcomes"] == {"on_event": 1, "on_timeout": 2}
    assert steps["split"]["outcomes"] == {"holdout": 1, "remind": 1}
    assert steps["reminder"] == {
        "step": "reminder",
        "kind": "send",
        "executed": 1,
        "outcomes": {"queued": 1},
    }
    # One treated, one held out, neither converted: nothing told apart.
    assert (stats["conversion"]["difference"], stats["conversion"]["significant"]) == (0, False)
    assert stats["arms"]["remind"] == {"entered": 1, "converted": 0, "rate": 0.0}


def test_holdout_against_treated_with_fishers_exact_test(platform: Platform) -> None:
    platform.journeys.create(CART, actor="ana")
    journey = platform.journeys.store.require("cart").id
    for i in range(20):
        add_enrolment(
            platform.opstore, journey, f"t{i}", state=DONE, arm="remind", converted=i < 10
        )
        add_enrolment(
            platform.opstore, journey, f"h{i}", state=DONE, arm="holdout", converted=i < 2
        )
    conversion = platform.journeys.stats("cart")["conversion"]
    assert conversion["treated"] == {"entered": 20, "converted": 10, "rate": 0.5}
    assert conversion["holdout"] == {"entered": 20, "converted": 2, "rate": 0.1}
    assert conversion["difference"] == pytest.approx(0.4)
    assert conversion["test"] == "fisher_exact"
    assert conversion["p_value"] == pytest.approx(0.0138, abs=1e-4)
    assert conversion["significant"] is True


WELCOME = {
    "name": "welcome",
    "entry": {"event": {"name": "Signed Up"}},
    "goal": {"event": "Order Completed", "within": "7d"},
    "start": "test",
    "steps": {
        "test": {
            "split": {"arms": [{"name": "mail", "weight": 1, "next": "hello"}], "holdout": 50}
        },
        "hello": {"send": {"channel": "email", "template": "welcome"}, "next": "done"},
        "done": {"exit": {}},
    },
}


def test_the_counts_of_a_journey_the_engine_ran_and_archiving_it(
    platform: Platform, journey_home: JourneyHome
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.journeys.e1_support import enrol_people

    journeys = platform.journeys
    journeys.create(WELCOME, actor="ana")
    journeys.approve("welcome", actor="li")
    journey = journeys.start("welcome", actor="li")
    journey_id = journeys.store.require("welcome").id
    now = datetime.now(UTC)
    people = sorted(journey_home.profiles.values())
    enrol_people(
        platform.opstore,
        journey_id,
        [(p, p) for p in people],
        start="test",
        now=now,
        goal_within=timedelta(days=7),
    )
    assert journey["live_version"] == 1
    assert journeys.runtime.run_due(now=now) > 0

    stats = journeys.stats("welcome")
    arms = {e["arm"] for e in journeys.enrolments("welcome")["enrolments"]}
    held = stats["arms"].get("holdout", {"entered": 0})["entered"]
    mailed = stats["arms"].get("mail", {"entered": 0})["entered"]
    assert held + mailed == len(people) and arms <= {"holdout", "mail"}
    steps = {s["step"]: s for s in stats["steps"]}
    assert steps["test"]["outcomes"] == {
        k: v for k, v in (("holdout", held), ("mail", mailed)) if v
    }
    assert steps["hello"]["executed"] == mailed
    assert sum(steps["hello"]["outcomes"].values()) == mailed
    assert stats["exit_reasons"].get("exit_step", 0) == mailed
    assert stats["in_flight"] == held  # held out: waiting for the goal window to close

    archived = journeys.archive("welcome", actor="li")
    assert archived["exited"] == held
    assert journeys.runtime.run_due(now=now + timedelta(days=8)) == 0
    after = journeys.stats("welcome")
    assert after["in_flight"] == 0 and after["exit_reasons"].get("archived", 0) == held
