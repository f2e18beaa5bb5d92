"""Enter steps: the person goes into another live journey, through its own entry rules.

Enrolment rows are made in one place, ``journeys/enrol.py`` (audience, re-entry, limits,
the open-key and entry-reference uniqueness); this calls it with the entry reference
``enter:{enrolment}:{visit}``, which the target journey holds unique, so a step run
again enrols nobody twice; the enrolment is made in the transaction that records the
step, so the step and its effect commit together. The entered journey's first step sees the
same entry event (``context``) as this one did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnichannel.journeys.definition import EnterStep, parse_journey
from omnichannel.journeys.engine import Claimed, Decision
from omnichannel.opstore.models import Journey, JourneyStatus, JourneyVersion

if TYPE_CHECKING:
    from omnichannel.platform import Platform

Executed = Callable[..., Decision]


def enter_other(
    platform: Platform, group: Sequence[Claimed], now: datetime, *, executed: Executed
) -> list[Decision]:
    """The decisions of ``group``'s enter steps; each enrols in the transaction that
    records it (``Decision.in_record``), so the step and its enrolment commit together."""
    targets: dict[str, tuple[Journey, Any] | None] = {}
    with platform.opstore.session() as session:
        for c in group:
            step = c.definition.steps[c.step or ""]
            assert isinstance(step, EnterStep)
            if step.enter.journey not in targets:
                targets[step.enter.journey] = _live(session, step.enter.journey)
    out: list[Decision] = []
    for c in group:
        step = c.definition.steps[c.step or ""]
        assert isinstance(step, EnterStep)
        name = step.enter.journey
        target = targets[name]
        if target is None:
            out.append(executed(c, "not_entered", detail={"journey": name, "reason": "not_live"}))
            continue
        decision = executed(c, "entered", detail={"journey": name})
        decision.in_record = _enrolment(platform, c, *target, now)
        out.append(decision)
    return out


def _enrolment(
    platform: Platform, c: Claimed, journey: Journey, definition: Any, now: datetime
) -> Callable[[Session, Decision], None]:
    def enrol_now(session: Session, decision: Decision) -> None:
        from omnichannel.journeys.enrol import enrol

        try:
            with session.begin_nested():  # a failure here costs the batch nothing
                result = enrol(
                    session,
                    journey,
                    definition,
                    subject=c.subject,
                    profile_id=c.profile_id,
                    entry_key=c.entry_key,
                    entry_ref=f"enter:{c.id}:{c.visit}",
                    context=dict(c.context),
                    now=now,
                    warehouse=platform.warehouse,
                )
        except Exception as exc:
            decision.outcome = "error"
            decision.detail["error"] = f"{type(exc).__name__}: {exc}"
            return
        decision.detail["enrolment_id"] = result.enrolment_id
        if not result.enrolled:
            decision.outcome = "not_entered"
            decision.detail["reason"] = result.reason

    return enrol_now


def _live(session: Any, name: str) -> tuple[Journey, Any] | None:
    journey = session.scalar(select(Journey).where(Journey.name == name))
    if journey is None or journey.status != JourneyStatus.LIVE or journey.live_version is None:
        return None
    document = session.scalar(
        select(JourneyVersion.definition).where(
            JourneyVersion.journey_id == journey.id,
            JourneyVersion.version == journey.live_version,
        )
    )
    return journey, parse_journey(document)
