"""Journeys, events and enrolment reads for the entry tests (enrol, trigger, scheduled).

Journeys are written as the store leaves a started one (a ``journeys`` row, live, with
its version's document in ``journey_versions``); events are stored as the loader stores
them (the next ``load_seq`` numbers, ``loaded_at`` now), so the trigger reads them
through its durable consumer like any event.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from omnichannel.consumers import Checkpoints, ConsumerRunner
from omnichannel.journeys.definition import parse_journey
from omnichannel.journeys.trigger import JourneyTrigger
from omnichannel.opstore import OpStore
from omnichannel.opstore.models import (
    Journey,
    JourneyEnrolment,
    JourneyStatus,
    JourneyVersion,
    utcnow,
)
from omnichannel.platform import Platform
from omnichannel.warehouse.store import conform
from omnichannel.warehouse.tables import EVENTS

_ids = itertools.count(1)

CART: dict[str, Any] = {
    "name": "cart",
    "entry": {"event": {"name": "Product Added", "key": "cartId"}},
    "reentry": {"mode": "always"},
    "goal": {"event": "Order Completed", "same_key": True, "within": "7d"},
    "start": "bought",
    "steps": {
        "bought": {
            "wait_for": {"event": "Order Completed", "same_key": True, "timeout": "23h"},
            "on_event": "done",
            "on_timeout": "done",
        },
        "done": {"exit": {}},
    },
}


def doc(**changes: Any) -> dict[str, Any]:
    """``CART`` with top-level keys replaced (a fresh copy)."""
    return {**json.loads(json.dumps(CART)), **changes}


def live_journey(
    opstore: OpStore,
    document: dict[str, Any],
    *,
    started_at: datetime | None = None,
    status: JourneyStatus = JourneyStatus.LIVE,
) -> Journey:
    """A started journey with ``document`` as its live version 1."""
    definition = parse_journey(document)
    with opstore.session() as session:
        journey = Journey(
            name=definition.name,
            status=status,
            version=1,
            approved_version=1,
            live_version=1,
            created_by="test",
            approved_by="test",
            started_at=started_at or utcnow() - timedelta(minutes=1),
        )
        session.add(journey)
        session.flush()
        session.add(
            JourneyVersion(
                journey_id=journey.id,
                version=1,
                definition=definition.document(),
                created_by="test",
            )
        )
    return journey


def store_events(platform: Platform, events: list[dict[str, Any]]) -> pa.Table:
    """Track events ``{user | anon, event[, props, at, id, tz]}``, numbered after the stored
    ones."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = pa.table(
        {
            "message_id": [e.get("id") or f"e2-{next(_ids)}" for e in events],
            "type": ["track"] * len(events),
            "event": [e["event"] for e in events],
            "user_id": [e.get("user") for e in events],
            "anonymous_id": [e.get("anon") for e in events],
            "timestamp": pa.array([e.get("at", now) for e in events], pa.timestamp("us")),
            "source": ["web"] * len(events),
            "channel": ["web"] * len(events),
            "properties": [json.dumps(e.get("props", {})) for e in events],
            "context_timezone": [e.get("tz") for e in events],
            "loaded_at": pa.array([now] * len(events), pa.timestamp("us")),
        }
    )
    with platform.warehouse.writer() as wh:
        last = int(wh.table(EVENTS.name).load_seq.max().to_pyarrow().as_py() or 0)
        numbered = rows.append_column(
            "load_seq", pa.array(range(last + 1, last + 1 + rows.num_rows), pa.int64())
        )
        wh.append(EVENTS.name, numbered)
    return conform(EVENTS, numbered)


def trigger_of(platform: Platform) -> tuple[JourneyTrigger, ConsumerRunner]:
    """The installation's trigger on a runner of its own, positioned at the end."""
    trigger = JourneyTrigger.of(platform)
    runner = ConsumerRunner(platform.warehouse, Checkpoints(platform.opstore), [trigger])
    runner.catch_up()
    return trigger, runner


def enrolments(opstore: OpStore, journey: Journey) -> list[JourneyEnrolment]:
    with opstore.session() as session:
        return list(
            session.scalars(
                select(JourneyEnrolment)
                .where(JourneyEnrolment.journey_id == journey.id)
                .order_by(JourneyEnrolment.id)
            )
        )


def make_waiting(
    opstore: OpStore, enrolment_id: int, step: str, event: str, timeout: datetime
) -> None:
    """Put an enrolment where the engine leaves one at a wait_for step."""
    with opstore.session() as session:
        row = session.get(JourneyEnrolment, enrolment_id)
        assert row is not None
        row.state = "waiting"  # type: ignore[assignment]
        row.step = step
        row.wait_event = event
        row.due_at = timeout
