"""A journey's counts: steps and branches, entries and exits, conversions, holdout vs treated.

Everything comes from two grouped queries (``journey_steps`` by step, kind and outcome;
``journey_enrolments`` by state, exit reason, arm and converted), whatever the number of
enrolments. A step's ``outcomes`` are what ``journey_steps.outcome`` recorded: the route
taken (``next``, ``then``/``else``, ``on_event``/``on_timeout``, a split arm's name) or a
send's status (``queued``, ``dropped``...).

Holdout vs treated: people held out by a split (``arm = "holdout"``) against those given
an arm, each group's conversion rate (``converted_at`` set: the goal reached within its
window), the difference (treated minus holdout, in points of rate) and Fisher's exact
test of the 2x2 table (scipy): exact at any size, where the normal approximation of a
two-proportion z-test misleads with the few conversions of a small holdout.

Example::

    journey_stats(platform.opstore, platform.journeys.store.require("winback"))
    # {"entered": 1000, "conversion": {"treated": {"rate": 0.12, ...},
    #  "holdout": {"rate": 0.08, ...}, "difference": 0.04, "p_value": 0.21, ...}, ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from omnichannel.opstore.models import (
    OPEN_ENROLMENT_STATES,
    EnrolmentState,
    JourneyEnrolment,
    JourneyStep,
)

if TYPE_CHECKING:
    from omnichannel.journeys.store import StoredJourney
    from omnichannel.opstore import OpStore

HOLDOUT = "holdout"
SIGNIFICANCE = 0.05


def journey_stats(opstore: OpStore, journey: StoredJourney) -> dict[str, Any]:
    """Counts of ``journey`` (every version together; see the module docstring)."""
    with opstore.session() as session:
        s = JourneyStep
        step_rows = session.execute(
            select(s.step, s.kind, s.outcome, func.count())
            .where(s.journey_id == journey.id)
            .group_by(s.step, s.kind, s.outcome)
        ).all()
        e = JourneyEnrolment
        converted = case((e.converted_at.is_not(None), 1), else_=0)
        enrolment_rows = session.execute(
            select(e.state, e.exit_reason, e.arm, func.count(), func.sum(converted))
            .where(e.journey_id == journey.id)
            .group_by(e.state, e.exit_reason, e.arm)
        ).all()
    counts = _enrolments(enrolment_rows)
    return {
        "journey": journey.name,
        "status": journey.status.value,
        "live_version": journey.live_version,
        **counts["totals"],
        "steps": _steps(journey, step_rows),
        "arms": counts["arms"],
        "conversion": _conversion(counts["arms"], counts["totals"]),
    }


def _steps(journey: StoredJourney, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Per step, in the order of the newest document (then any step only older versions
    had): executions and outcomes."""
    from omnichannel.journeys.definition import step_kind

    definition = journey.definition
    by_step: dict[str, dict[str, Any]] = {
        name: {"step": name, "kind": step_kind(step), "executed": 0, "outcomes": {}}
        for name, step in ((n, definition.steps[n]) for n in definition.reachable())
    }
    for step, kind, outcome, n in sorted(rows, key=lambda r: (r[0], r[2])):
        entry = by_step.setdefault(
            step, {"step": step, "kind": kind, "executed": 0, "outcomes": {}}
        )
        entry["executed"] += int(n)
        entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + int(n)
    return list(by_step.values())


def _enrolments(rows: Sequence[Any]) -> dict[str, Any]:
    open_states = {s.value for s in OPEN_ENROLMENT_STATES}
    totals: dict[str, Any] = {
        "entered": 0,
        "in_flight": 0,
        "completed": 0,
        "exited": 0,
        "converted": 0,
        "by_state": {s.value: 0 for s in EnrolmentState},
        "exit_reasons": {},
    }
    arms: dict[str, dict[str, int]] = {}
    for state, reason, arm, n, conv in rows:
        state = EnrolmentState(state).value
        n, conv = int(n), int(conv or 0)
        totals["entered"] += n
        totals["converted"] += conv
        totals["by_state"][state] += n
        if state in open_states:
            totals["in_flight"] += n
        elif state == EnrolmentState.COMPLETED.value:
            totals["completed"] += n
        else:
            totals["exited"] += n
        if reason is not None and state not in open_states:
            totals["exit_reasons"][reason] = totals["exit_reasons"].get(reason, 0) + n
        if arm is not None:
            group = arms.setdefault(arm, {"entered": 0, "converted": 0})
            group["entered"] += n
            group["converted"] += conv
    totals["conversion_rate"] = _rate(totals["converted"], totals["entered"])
    public_arms = {
        name: {**group, "rate": _rate(group["converted"], group["entered"])}
        for name, group in sorted(arms.items())
    }
    return {"totals": totals, "arms": public_arms}


def _rate(converted: int, entered: int) -> float | None:
    return converted / entered if entered else None


def _conversion(arms: dict[str, dict[str, Any]], totals: dict[str, Any]) -> dict[str, Any]:
    """Holdout against everyone given an arm, with Fisher's exact test when both exist."""
    held = arms.get(HOLDOUT, {"entered": 0, "converted": 0})
    treated_n = sum(g["entered"] for name, g in arms.items() if name != HOLDOUT)
    treated_c = sum(g["converted"] for name, g in arms.items() if name != HOLDOUT)
    answer: dict[str, Any] = {
        "overall": {
            "entered": totals["entered"],
            "converted": totals["converted"],
            "rate": totals["conversion_rate"],
        },
        "treated": {
            "entered": treated_n,
            "converted": treated_c,
            "rate": _rate(treated_c, treated_n),
        },
        "holdout": {
            "entered": held["entered"],
            "converted": held["converted"],
            "rate": _rate(held["converted"], held["entered"]),
        },
        "difference": None,
        "p_value": None,
        "test": None,
        "significant": None,
    }
    if not treated_n or not held["entered"]:
        return answer
    from scipy.stats import fisher_exact

    table = [
        [treated_c, treated_n - treated_c],
        [held["converted"], held["entered"] - held["converted"]],
    ]
    _, p_value = fisher_exact(table, alternative="two-sided")
    answer["difference"] = treated_c / treated_n - held["converted"] / held["entered"]
    answer["p_value"] = float(p_value)
    answer["test"] = "fisher_exact"
    answer["significant"] = bool(p_value < SIGNIFICANCE)
    return answer
