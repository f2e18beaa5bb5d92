"""Journey documents and enrolment rows for the operations tests (store, stats, CLI, API)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from omnichannel.opstore import OpStore
from omnichannel.opstore.models import (
    EnrolmentState,
    JourneyEnrolment,
    JourneyStep,
    utcnow,
)

# Abandoned cart: keyed by cartId, wait an hour, bought? else a split (10 % held out)
# then a reminder by email.
CART: dict[str, Any] = {
    "name": "cart",
    "description": "abandoned cart",
    "entry": {"event": {"name": "Product Added", "key": "cartId"}},
    "reentry": {"mode": "always"},
    "goal": {"event": "Order Completed", "same_key": True, "within": "7d"},
    "start": "wait-an-hour",
    "steps": {
        "wait-an-hour": {"wait": "1h", "next": "bought"},
        "bought": {
            "wait_for": {"event": "Order Completed", "same_key": True, "timeout": "23h"},
            "on_event": "done",
            "on_timeout": "split",
        },
        "split": {
            "split": {"arms": [{"name": "remind", "weight": 1, "next": "reminder"}], "holdout": 10}
        },
        "reminder": {"send": {"channel": "email", "template": "cart-reminder"}, "next": "done"},
        "done": {"exit": {}},
    },
}


def cart(**changes: Any) -> dict[str, Any]:
    """A copy of ``CART`` with top-level keys replaced."""
    return {**copy.deepcopy(CART), **changes}


def with_step(doc: dict[str, Any], name: str, step: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with one step replaced (or added)."""
    changed = copy.deepcopy(doc)
    changed["steps"][name] = step
    return changed


def add_enrolment(
    opstore: OpStore,
    journey_id: int,
    subject: str,
    *,
    state: EnrolmentState = EnrolmentState.ACTIVE,
    arm: str | None = None,
    converted: bool = False,
    exit_reason: str | None = None,
    step: str | None = "wait-an-hour",
    entered_at: datetime | None = None,
) -> int:
    """One enrolment row as the entries would make it (open ones hold their open_key)."""
    at = entered_at or utcnow()
    is_open = state in (EnrolmentState.ACTIVE, EnrolmentState.WAITING)
    with opstore.session() as session:
        row = JourneyEnrolment(
            journey_id=journey_id,
            journey_version=1,
            subject=subject,
            profile_id=subject if subject.startswith("p") else None,
            entry_key="",
            entry_ref=f"ref:{subject}:{at.isoformat()}",
            open_key=f"{subject}\x1f" if is_open else None,
            state=state,
            step=step if is_open else None,
            due_at=at if is_open else None,
            arm=arm,
            context={},
            goal_until=at + timedelta(days=7),
            converted_at=at + timedelta(hours=2) if converted else None,
            exit_reason=exit_reason,
            entered_at=at,
            finished_at=None if is_open else at + timedelta(days=1),
        )
        session.add(row)
        session.flush()
        return int(row.id)


def add_step(
    opstore: OpStore,
    journey_id: int,
    enrolment_id: int,
    visit: int,
    step: str,
    kind: str,
    outcome: str,
) -> None:
    with opstore.session() as session:
        session.add(
            JourneyStep(
                enrolment_id=enrolment_id,
                journey_id=journey_id,
                visit=visit,
                step=step,
                kind=kind,
                outcome=outcome,
                detail={},
            )
        )


def store_events(platform: Any, events: list[dict[str, Any]], *, prefix: str = "o") -> None:
    """Track events ``{user | anon, at, event, props}`` appended to the warehouse."""
    import json

    import pyarrow as pa

    with platform.warehouse.writer() as wh:
        wh.append(
            "events",
            pa.table(
                {
                    "message_id": [f"{prefix}-{i}" for i in range(len(events))],
                    "type": ["track"] * len(events),
                    "event": [e["event"] for e in events],
                    "user_id": [e.get("user") for e in events],
                    "anonymous_id": [e.get("anon") for e in events],
                    "timestamp": [e["at"] for e in events],
                    "source": ["web"] * len(events),
                    "channel": ["web"] * len(events),
                    "properties": [json.dumps(e.get("props", {})) for e in events],
                    "loaded_at": [e["at"] for e in events],
                }
            ),
        )
