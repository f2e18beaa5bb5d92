"""Claims on each operational store: a batch is at most ``limit`` enrolments, earliest due
first, and two workers' claims never overlap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omnichannel.journeys.engine import Definitions, claim
from omnichannel.opstore import open_opstore
from omnichannel.opstore.models import JourneyEnrolment, utcnow
from tests.journeys.e1_support import add_journey, enrol_people

DOC = {
    "name": "claims",
    "entry": {"event": {"name": "Signed Up"}},
    "start": "bye",
    "steps": {"bye": {"exit": {}}},
}


@pytest.mark.parametrize("people", [60, 1500])
def test_a_claim_leases_at_most_its_limit_and_never_what_another_holds(
    opstore_url: str, people: int
) -> None:
    store = open_opstore(opstore_url)
    try:
        journey_id = add_journey(store, DOC)
        t0 = utcnow()
        subjects = [(f"user_id:u{n}", None) for n in range(people)]
        enrol_people(store, journey_id, subjects, start="bye", now=t0 - timedelta(minutes=1))
        lease = timedelta(seconds=30)
        with store.session() as session:
            first = claim(
                session, holder="a", limit=25, lease=lease, now=t0, definitions=Definitions()
            )
        with store.session() as session:
            second = claim(
                session, holder="b", limit=25, lease=lease, now=t0, definitions=Definitions()
            )
        assert len(first) == 25 and len(second) == 25
        assert not {c.id for c in first} & {c.id for c in second}
        with store.session() as session:
            held = dict(
                session.execute(
                    select(JourneyEnrolment.lease_holder, func.count())
                    .where(JourneyEnrolment.lease_holder.is_not(None))
                    .group_by(JourneyEnrolment.lease_holder)
                ).all()
            )
        assert held == {"a": 25, "b": 25}
    finally:
        store.close()
