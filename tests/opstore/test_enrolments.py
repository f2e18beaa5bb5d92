"""Journey enrolments: what the database itself guarantees, whatever the engine does.

One enrolment per entry (a replayed entry event cannot enrol twice), one open enrolment
per person and entry key (a person may have two carts in flight, never the same cart
twice), and one recorded execution per step visit.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from omnichannel.opstore import OpStore
from omnichannel.opstore.models import (
    EnrolmentState,
    Journey,
    JourneyEnrolment,
    JourneyStep,
    utcnow,
)


def _enrol(
    store: OpStore, journey: Journey, subject: str, ref: str, key: str = "", **fields: object
) -> int:
    with store.session() as session:
        enrolment = JourneyEnrolment(
            journey_id=journey.id,
            journey_version=1,
            subject=subject,
            profile_id=subject,
            entry_key=key,
            entry_ref=ref,
            open_key=f"{subject}|{key}",
            **fields,
        )
        session.add(enrolment)
    return enrolment.id


def _count(store: OpStore) -> int:
    with store.session() as session:
        return len(session.scalars(select(JourneyEnrolment)).all())


def test_the_same_entry_event_enrols_once(store: OpStore, journey: Journey) -> None:
    first = _enrol(store, journey, "p-1", ref="evt-1")
    with store.session() as session:
        row = session.get(JourneyEnrolment, first)
        assert row is not None
        row.state, row.open_key = EnrolmentState.COMPLETED, None
    with pytest.raises(IntegrityError):
        _enrol(store, journey, "p-1", ref="evt-1")  # replayed after the first one finished
    assert _count(store) == 1


@pytest.mark.parametrize("open_state", [EnrolmentState.ACTIVE, EnrolmentState.WAITING])
def test_one_open_enrolment_per_person_and_key(
    store: OpStore, journey: Journey, open_state: EnrolmentState
) -> None:
    _enrol(store, journey, "p-1", ref="evt-1", key="cart-A", state=open_state)
    with pytest.raises(IntegrityError):
        _enrol(store, journey, "p-1", ref="evt-2", key="cart-A")
    _enrol(store, journey, "p-1", ref="evt-3", key="cart-B")  # another cart is in flight too
    _enrol(store, journey, "p-2", ref="evt-4", key="cart-A")  # another person's cart A
    assert _count(store) == 3


def test_a_finished_enrolment_allows_reentry(store: OpStore, journey: Journey) -> None:
    first = _enrol(store, journey, "p-1", ref="evt-1")
    with store.session() as session:
        row = session.get(JourneyEnrolment, first)
        assert row is not None
        row.state, row.open_key, row.finished_at = EnrolmentState.COMPLETED, None, utcnow()
    second = _enrol(store, journey, "p-1", ref="evt-2")
    with store.session() as session:
        states = session.execute(
            select(JourneyEnrolment.id, JourneyEnrolment.state).where(
                JourneyEnrolment.subject == "p-1"
            )
        ).all()
    assert sorted(states) == [(first, EnrolmentState.COMPLETED), (second, EnrolmentState.ACTIVE)]


def test_a_step_visit_is_recorded_once(store: OpStore, journey: Journey) -> None:
    enrolment = _enrol(store, journey, "p-1", ref="evt-1")

    def record(outcome: str) -> None:
        with store.session() as session:
            session.add(
                JourneyStep(
                    enrolment_id=enrolment,
                    journey_id=journey.id,
                    visit=0,
                    step="welcome",
                    kind="send",
                    outcome=outcome,
                )
            )

    record("queued")
    with pytest.raises(IntegrityError):
        record("queued")  # a second worker finishing the same step
    with store.session() as session:
        assert len(session.scalars(select(JourneyStep)).all()) == 1


def test_due_enrolments_come_out_in_due_order(store: OpStore, journey: Journey) -> None:
    now = utcnow()
    _enrol(store, journey, "later", ref="1", due_at=now + timedelta(hours=1))
    _enrol(store, journey, "due-second", ref="2", due_at=now - timedelta(minutes=1))
    _enrol(store, journey, "due-first", ref="3", due_at=now - timedelta(hours=2))
    _enrol(store, journey, "idle", ref="4")
    with store.session() as session:
        due = session.scalars(
            select(JourneyEnrolment.subject)
            .where(JourneyEnrolment.state == EnrolmentState.ACTIVE, JourneyEnrolment.due_at <= now)
            .order_by(JourneyEnrolment.due_at)
        ).all()
    assert due == ["due-first", "due-second"]


def test_context_json_round_trips(store: OpStore, journey: Journey) -> None:
    enrolment_id = _enrol(
        store, journey, "p-9", ref="e", context={"arm": "B", "entry": {"order_total": 129.5}}
    )
    with store.session() as session:
        row = session.get(JourneyEnrolment, enrolment_id)
        assert row is not None
        assert row.context == {"arm": "B", "entry": {"order_total": 129.5}}
        assert row.state is EnrolmentState.ACTIVE and row.visit == 0
