"""enrol / enrol_many: who gets in, who is refused and why (re-entry, limits, audience)."""

from __future__ import annotations

from datetime import timedelta

from omnichannel.journeys.definition import parse_journey
from omnichannel.journeys.enrol import Candidate, enrol, enrol_many
from omnichannel.opstore import OpStore
from omnichannel.opstore.models import EnrolmentState, JourneyEnrolment, utcnow
from omnichannel.platform import Platform
from tests.journeys.conftest import JourneyHome
from tests.journeys.e2_support import doc, enrolments, live_journey, store_events

NOW = utcnow()


def _finish(platform: Platform, enrolment_id: int) -> None:
    """As the engine leaves an enrolment that came to its end."""
    with platform.opstore.session() as session:
        row = session.get(JourneyEnrolment, enrolment_id)
        assert row is not None
        row.state = EnrolmentState.COMPLETED
        row.open_key = None
        row.finished_at = NOW


def _one(platform: Platform, document: dict, ref: str, **kw: object) -> tuple[bool, str | None]:
    journey = kw.pop("journey")
    at = kw.pop("now", NOW)
    with platform.opstore.session() as session:
        result = enrol(
            session,
            journey,  # type: ignore[arg-type]
            parse_journey(document),
            subject=str(kw.get("subject", "p-1")),
            profile_id=str(kw.get("subject", "p-1")),
            entry_key=str(kw.get("key", "")),
            entry_ref=ref,
            context={"event": "Signed Up"},
            now=at,  # type: ignore[arg-type]
            warehouse=platform.warehouse,
        )
    return result.enrolled, result.reason


def test_one_enrolment_per_cart_in_flight_and_a_replayed_entry_enrols_nobody(
    platform: Platform,
) -> None:
    journey = live_journey(platform.opstore, doc())
    definition = parse_journey(doc())
    batch = [
        Candidate("p-1", "m1", "p-1", "cart-1"),
        Candidate("p-1", "m2", "p-1", "cart-2"),  # another cart: another enrolment
        Candidate("p-1", "m3", "p-1", "cart-1"),  # the same cart again while in flight
        Candidate("p-1", "m1", "p-1", "cart-1"),  # the same event twice in one batch
    ]
    with platform.opstore.session() as session:
        results = enrol_many(session, journey, definition, batch, now=NOW)
    assert [(r.enrolled, r.reason) for r in results] == [
        (True, None),
        (True, None),
        (False, "in_flight_same_key"),
        (False, "duplicate"),
    ]
    with platform.opstore.session() as session:
        again = enrol_many(session, journey, definition, batch[:2], now=NOW)
    assert [r.reason for r in again] == ["duplicate", "duplicate"]
    rows = enrolments(platform.opstore, journey)
    assert [(r.entry_key, r.entry_ref, r.state, r.step, r.visit) for r in rows] == [
        ("cart-1", "m1", "active", "bought", 0),
        ("cart-2", "m2", "active", "bought", 0),
    ]
    assert rows[0].due_at == NOW
    assert rows[0].goal_until == NOW + timedelta(days=7)  # the goal's window from entry
    assert rows[0].open_key == "p-1\x1fcart-1"


def test_reentry_never_after_a_wait_and_always(platform: Platform) -> None:
    for mode, wait, expected in (
        ("never", None, [(True, None), (False, "reentry"), (False, "reentry")]),
        ("after", "2d", [(True, None), (False, "reentry"), (True, None)]),
        ("always", None, [(True, None), (True, None), (True, None)]),
    ):
        rule = {"mode": mode, **({"wait": wait} if wait else {})}
        document = doc(name=f"re-{mode}", reentry=rule, entry={"event": {"name": "Signed Up"}})
        document.pop("goal")
        document["steps"]["bought"]["wait_for"]["same_key"] = False
        journey = live_journey(platform.opstore, document)
        seen = []
        # An entry, then one a day later, then one three days later; each time the
        # earlier enrolment has finished (never two at once).
        for day in (0, 1, 3):
            outcome = _one(
                platform, document, f"{mode}-{day}", journey=journey, now=NOW + timedelta(days=day)
            )
            seen.append(outcome)
            if outcome[0]:
                _finish(platform, enrolments(platform.opstore, journey)[-1].id)
        assert seen == expected, mode
    # Whatever the mode, never twice at once.
    open_doc = doc(name="re-open", entry={"event": {"name": "Signed Up"}})
    open_doc.pop("goal")
    open_doc["steps"]["bought"]["wait_for"]["same_key"] = False
    journey = live_journey(platform.opstore, open_doc)
    assert _one(platform, open_doc, "o-1", journey=journey) == (True, None)
    assert _one(platform, open_doc, "o-2", journey=journey) == (False, "in_flight_same_key")


def test_limits_per_day_and_in_flight_refuse_the_later_candidates(platform: Platform) -> None:
    per_day = doc(name="daily", limits={"entries_per_day": 2})
    journey = live_journey(platform.opstore, per_day)
    people = [Candidate(f"p-{i}", f"d{i}", f"p-{i}", "c") for i in range(3)]
    with platform.opstore.session() as session:
        first = enrol_many(session, journey, parse_journey(per_day), people, now=NOW)
    assert [r.reason for r in first] == [None, None, "limit:entries_per_day"]
    tomorrow = NOW.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    with platform.opstore.session() as session:
        later = enrol_many(
            session,
            journey,
            parse_journey(per_day),
            [Candidate("p-9", "d9", "p-9", "c")],
            now=tomorrow,
        )
    assert later[0].enrolled  # a new day

    flying = doc(name="flying", limits={"in_flight": 1})
    journey = live_journey(platform.opstore, flying)
    assert _one(platform, flying, "f1", journey=journey, subject="p-1", key="c")[0]
    assert _one(platform, flying, "f2", journey=journey, subject="p-2", key="c") == (
        False,
        "limit:in_flight",
    )
    _finish(platform, enrolments(platform.opstore, journey)[0].id)
    assert _one(platform, flying, "f3", journey=journey, subject="p-2", key="c") == (True, None)


def test_an_audience_admits_its_members_only(platform: Platform, journey_home: JourneyHome) -> None:
    ann, bob = journey_home.profiles["ann"], journey_home.profiles["bob"]
    store_events(platform, [{"user": "ann", "event": "VIP Marked"}])
    platform.segments.create(
        {"name": "vips", "condition": {"event": {"name": "VIP Marked"}}}, created_by="t"
    )
    document = doc(
        name="vip-carts",
        entry={"event": {"name": "Product Added", "key": "cartId"}, "audience": "vips"},
    )
    journey = live_journey(platform.opstore, document)
    people = [
        Candidate(ann, "a1", ann, "c"),
        Candidate(bob, "b1", bob, "c"),
        Candidate("user_id:nobody", "n1", None, "c"),  # no profile: cannot be a member
    ]
    with platform.opstore.session() as session:
        results = enrol_many(
            session, journey, parse_journey(document), people, now=NOW, warehouse=platform.warehouse
        )
    assert [r.reason for r in results] == [None, "audience", "audience"]


def test_entries_are_unique_on_each_operational_store(store: OpStore) -> None:
    """The same rules on SQLite and PostgreSQL (``store``: both legs of the matrix), where
    the inserts skip what a unique constraint refuses (ON CONFLICT DO NOTHING)."""
    journey = live_journey(store, doc(name="both"))
    definition = parse_journey(doc(name="both"))
    batch = [
        Candidate("p-1", "m1", "p-1", "c1"),
        Candidate("p-1", "m2", "p-1", "c1"),
        Candidate("p-2", "m3", "p-2", "c1"),
    ]
    for expected in (
        [None, "in_flight_same_key", None],
        ["duplicate", "in_flight_same_key", "duplicate"],
    ):
        with store.session() as session:
            results = enrol_many(session, journey, definition, batch, now=NOW)
        assert [r.reason for r in results] == expected
    # A message id longer than the column (PostgreSQL would refuse it) enrols, once.
    long_ref = "m" * 400
    for expected_reason in (None, "duplicate"):
        with store.session() as session:
            (result,) = enrol_many(
                session, journey, definition, [Candidate("p-3", long_ref, "p-3", "c1")], now=NOW
            )
        assert result.reason == expected_reason
    rows = enrolments(store, journey)
    assert [(r.subject, r.entry_ref) for r in rows[:2]] == [("p-1", "m1"), ("p-2", "m3")]
    assert rows[2].entry_ref.startswith("m" * 200) and len(rows[2].entry_ref) == 300
