"""Journey enrolments: the database allows one open enrolment per journey and profile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from omnichannel.opstore import OpStore
from omnichannel.opstore.models import (
    EnrolmentState,
    JourneyDefinition,
    JourneyEnrolment,
    utcnow,
)


def _enrol(store: OpStore, journey_id: int, profile_id: str, **fields: object) -> int:
    with store.session() as session:
        enrolment = JourneyEnrolment(journey_id=journey_id, profile_id=profile_id, **fields)
        session.add(enrolment)
    return enrolment.id


@pytest.mark.parametrize("open_state", [EnrolmentState.ACTIVE, EnrolmentState.WAITING])
def test_a_second_open_enrolment_is_refused(
    store: OpStore, journey: JourneyDefinition, open_state: EnrolmentState
) -> None:
    _enrol(store, journey.id, "p-1", state=open_state)
    with pytest.raises(IntegrityError):
        _enrol(store, journey.id, "p-1")
    with store.session() as session:
        count = len(session.scalars(select(JourneyEnrolment)).all())
    assert count == 1


def test_a_finished_enrolment_allows_reentry(store: OpStore, journey: JourneyDefinition) -> None:
    first = _enrol(store, journey.id, "p-1")
    with store.session() as session:
        row = session.get(JourneyEnrolment, first)
        assert row is not None
        row.state = EnrolmentState.COMPLETED
        row.exited_at = utcnow()
    second = _enrol(store, journey.id, "p-1")
    # Another profile and another journey are unaffected by either.
    _enrol(store, journey.id, "p-2")
    with store.session() as session:
        other = JourneyDefinition(name="winback", definition={}, created_by="cli")
        session.add(other)
    _enrol(store, other.id, "p-1")
    with store.session() as session:
        states = session.execute(
            select(JourneyEnrolment.id, JourneyEnrolment.state).where(
                JourneyEnrolment.journey_id == journey.id, JourneyEnrolment.profile_id == "p-1"
            )
        ).all()
    assert sorted(states) == [(first, EnrolmentState.COMPLETED), (second, EnrolmentState.ACTIVE)]


def test_due_enrolments_come_out_in_run_order(store: OpStore, journey: JourneyDefinition) -> None:
    now = utcnow()
    _enrol(store, journey.id, "later", next_run_at=now + timedelta(hours=1))
    _enrol(store, journey.id, "due-second", next_run_at=now - timedelta(minutes=1))
    _enrol(store, journey.id, "due-first", next_run_at=now - timedelta(hours=2))
    _enrol(store, journey.id, "idle")
    with store.session() as session:
        due = session.scalars(
            select(JourneyEnrolment.profile_id)
            .where(JourneyEnrolment.next_run_at <= now)
            .order_by(JourneyEnrolment.next_run_at)
        ).all()
    assert due == ["due-first", "due-second"]


def test_context_and_definition_json_round_trip(store: OpStore, journey: JourneyDefinition) -> None:
    enrolment_id = _enrol(
        store, journey.id, "p-9", context={"arm": "B", "trigger": {"order_total": 129.5}}
    )
    with store.session() as session:
        row = session.get(JourneyEnrolment, enrolment_id)
        assert row is not None
        assert row.context == {"arm": "B", "trigger": {"order_total": 129.5}}
        assert row.journey.definition["trigger"] == {"event": "Signed Up"}
        assert row.state is EnrolmentState.ACTIVE
