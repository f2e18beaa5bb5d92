"""The journey trigger: entries, wait_for matches and goals from the stored event stream."""

from __future__ import annotations

from datetime import timedelta

from omnichannel.consumers import Checkpoints, ConsumerRunner
from omnichannel.opstore.models import (
    EnrolmentState,
    Journey,
    JourneyEnrolment,
    JourneyStatus,
    JourneyVersion,
    utcnow,
)
from omnichannel.platform import Platform
from omnichannel.segments.realtime import SegmentUpdater
from tests.journeys.conftest import JourneyHome
from tests.journeys.e2_support import (
    doc,
    enrolments,
    live_journey,
    make_waiting,
    store_events,
    trigger_of,
)

WAIT_ONLY = doc(name="cart-wait")
WAIT_ONLY.pop("goal")


def test_a_keyed_entry_enrols_once_per_cart_and_a_replayed_batch_enrols_nobody_twice(
    platform: Platform, journey_home: JourneyHome
) -> None:
    journey = live_journey(platform.opstore, doc())
    trigger, runner = trigger_of(platform)
    batch = store_events(
        platform,
        [
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c1"}},
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c1"}},  # same cart
            {"user": "ann", "event": "Product Added", "props": {"cartId": 2}},
            {"user": "ann", "event": "Product Added", "props": {}},  # no key: no entry
            {"user": "bob", "event": "Page Viewed", "props": {"cartId": "c9"}},
        ],
    )
    assert runner.catch_up() == 5
    trigger.handle(batch)  # the same batch again, as after a crash before the checkpoint
    rows = enrolments(platform.opstore, journey)
    ann = journey_home.profiles["ann"]
    assert [(r.subject, r.profile_id, r.entry_key) for r in rows] == [
        (ann, ann, "c1"),
        (ann, ann, "2"),
    ]
    assert rows[0].context["entry"] == {"cartId": "c1"}
    assert rows[0].context["event"] == "Product Added"


def test_wait_for_matches_the_same_cart_and_not_another_carts_event(
    platform: Platform, journey_home: JourneyHome
) -> None:
    journey = live_journey(platform.opstore, WAIT_ONLY)
    _, runner = trigger_of(platform)
    store_events(
        platform,
        [
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c1"}},
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c2"}},
        ],
    )
    runner.catch_up()
    timeout = utcnow().replace(year=2099)
    for row in enrolments(platform.opstore, journey):
        make_waiting(platform.opstore, row.id, "bought", "Order Completed", timeout)
    store_events(
        platform,
        [
            {"user": "bob", "event": "Order Completed", "props": {"cartId": "c1"}},  # not ann
            {"user": "ann", "event": "Order Completed", "props": {"cartId": "c2", "total": 5}},
        ],
    )
    runner.catch_up()
    c1, c2 = enrolments(platform.opstore, journey)
    assert (c1.state, c1.matched_at) == ("waiting", None)
    assert c2.state == "active" and c2.matched_at is not None
    assert c2.due_at == c2.matched_at  # due now: the engine takes on_event
    assert c2.context["matched"] == {"cartId": "c2", "total": 5}


def test_the_goal_converts_and_exits_only_the_same_carts_enrolment(platform: Platform) -> None:
    journey = live_journey(platform.opstore, doc())
    _, runner = trigger_of(platform)
    store_events(
        platform,
        [
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c1"}},
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c2"}},
            # Bought in the same batch as the entry: it came after, so it counts.
            {"user": "ann", "event": "Order Completed", "props": {"cartId": "c1"}},
        ],
    )
    runner.catch_up()
    c1, c2 = enrolments(platform.opstore, journey)
    assert (c1.state, c1.exit_reason, c1.open_key) == ("exited", "goal", None)
    assert c1.converted_at is not None and c1.finished_at is not None
    assert (c2.state, c2.converted_at) == ("active", None)
    # A purchase before the cart was added converts nothing (earlier in the stream).
    store_events(
        platform,
        [
            {"user": "bob", "event": "Order Completed", "props": {"cartId": "c5"}},
            {"user": "bob", "event": "Product Added", "props": {"cartId": "c5"}},
        ],
    )
    runner.catch_up()
    assert enrolments(platform.opstore, journey)[-1].converted_at is None
    # A finished enrolment still in its window is counted as converted, and stays finished.
    c2_id = enrolments(platform.opstore, journey)[1].id
    with platform.opstore.session() as session:
        row = session.get(JourneyEnrolment, c2_id)
        assert row is not None
        row.state, row.open_key, row.exit_reason = EnrolmentState.COMPLETED, None, "done"
    store_events(platform, [{"user": "ann", "event": "Order Completed", "props": {"cartId": "c2"}}])
    runner.catch_up()
    c2 = enrolments(platform.opstore, journey)[1]
    assert (c2.state, c2.exit_reason) == ("completed", "done") and c2.converted_at is not None


def test_a_paused_journey_enrols_nobody(platform: Platform) -> None:
    journey = live_journey(platform.opstore, doc(), status=JourneyStatus.PAUSED)
    _, runner = trigger_of(platform)
    store_events(platform, [{"user": "ann", "event": "Product Added", "props": {"cartId": "c1"}}])
    runner.catch_up()
    assert enrolments(platform.opstore, journey) == []


def _segment_journey(platform: Platform, name: str, entry: dict[str, str]) -> Journey:
    document = doc(name=name, entry={"segment": entry})
    document.pop("goal")
    document["steps"]["bought"]["wait_for"]["same_key"] = False
    return live_journey(platform.opstore, document)


def test_segment_entries_enrol_whom_the_segment_updater_let_in_or_out(
    platform: Platform, journey_home: JourneyHome
) -> None:
    platform.segments.create(
        {"name": "vips", "condition": {"event": {"name": "VIP Marked"}}}, created_by="t"
    )
    platform.segments.create(  # everyone now; whoever opts out leaves
        {"name": "reachable", "condition": {"not": {"event": {"name": "Opted Out"}}}},
        created_by="t",
    )
    welcome = _segment_journey(platform, "welcome-vips", {"entered": "vips"})
    goodbye = _segment_journey(platform, "goodbye", {"exited": "reachable"})
    trigger, _ = trigger_of(platform)
    runner = ConsumerRunner(
        platform.warehouse, Checkpoints(platform.opstore), [SegmentUpdater.of(platform), trigger]
    )
    runner.catch_up()
    store_events(
        platform, [{"user": "bob", "event": "VIP Marked"}, {"user": "cy", "event": "Opted Out"}]
    )
    runner.catch_up()  # the updater stores Segment Entered / Exited; the trigger reads them
    runner.catch_up()
    bob, cy = journey_home.profiles["bob"], journey_home.profiles["cy"]
    entered = [
        (r.subject, r.profile_id, r.context["event"]) for r in enrolments(platform.opstore, welcome)
    ]
    assert entered == [(bob, bob, "Segment Entered")]
    left = [(r.subject, r.context["event"]) for r in enrolments(platform.opstore, goodbye)]
    assert left == [(cy, "Segment Exited")]


def test_starting_a_journey_never_enrols_from_events_stored_before(platform: Platform) -> None:
    _, runner = trigger_of(platform)
    store_events(platform, [{"user": "ann", "event": "Product Added", "props": {"cartId": "old"}}])
    journey = live_journey(platform.opstore, doc(), started_at=utcnow())
    store_events(platform, [{"user": "ann", "event": "Product Added", "props": {"cartId": "new"}}])
    runner.catch_up()  # both events are read now, after the start
    assert [r.entry_key for r in enrolments(platform.opstore, journey)] == ["new"]


def test_someone_without_a_profile_enters_by_identifier_and_their_later_events_match(
    platform: Platform, journey_home: JourneyHome
) -> None:
    journey = live_journey(platform.opstore, WAIT_ONLY)
    _, runner = trigger_of(platform)
    store_events(platform, [{"anon": "a-77", "event": "Product Added", "props": {"cartId": "k"}}])
    runner.catch_up()
    (row,) = enrolments(platform.opstore, journey)
    assert (row.subject, row.profile_id) == ("anonymous_id:a-77", None)
    make_waiting(platform.opstore, row.id, "bought", "Order Completed", utcnow().replace(year=2099))
    # They sign in and buy: the event carries their user id (a profile) and the same
    # anonymous id, so it reaches the enrolment made under the identifier.
    store_events(
        platform,
        [{"user": "ann", "anon": "a-77", "event": "Order Completed", "props": {"cartId": "k"}}],
    )
    runner.catch_up()
    (row,) = enrolments(platform.opstore, journey)
    assert row.state == "active" and row.matched_at is not None


def test_with_the_engine_the_same_carts_purchase_takes_on_event_and_the_others_times_out(
    platform: Platform,
) -> None:
    document = doc(name="cart-engine")
    document.pop("goal")
    document["steps"] = {
        "bought": {
            "wait_for": {"event": "Order Completed", "same_key": True, "timeout": "1h"},
            "on_event": "thanks",
            "on_timeout": "reminder",
        },
        "thanks": {"exit": {"reason": "bought"}},
        "reminder": {"exit": {"reason": "reminded"}},
    }
    journey = live_journey(platform.opstore, document)
    _, runner = trigger_of(platform)
    runtime = platform.journeys.runtime
    store_events(
        platform,
        [
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c1"}},
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c2"}},
        ],
    )
    runner.catch_up()
    runtime.run_due()  # both begin to wait
    assert [r.state for r in enrolments(platform.opstore, journey)] == ["waiting", "waiting"]
    store_events(platform, [{"user": "ann", "event": "Order Completed", "props": {"cartId": "c2"}}])
    runner.catch_up()
    runtime.run_due()
    runtime.run_due(now=utcnow() + timedelta(hours=2))  # c1's wait times out
    c1, c2 = enrolments(platform.opstore, journey)
    assert (c2.state, c2.exit_reason) == ("exited", "bought")
    assert (c1.state, c1.exit_reason) == ("exited", "reminded")


def test_a_stored_document_that_no_longer_parses_costs_no_other_journey(
    platform: Platform,
) -> None:
    broken = live_journey(platform.opstore, doc(name="broken"))
    with platform.opstore.session() as session:
        version = session.get(JourneyVersion, (broken.id, 1))
        assert version is not None
        version.definition = {"name": "broken", "entry": {"event": {}}}
    good = live_journey(platform.opstore, doc())
    _, runner = trigger_of(platform)
    store_events(platform, [{"user": "ann", "event": "Product Added", "props": {"cartId": "c1"}}])
    runner.catch_up()
    assert [r.entry_key for r in enrolments(platform.opstore, good)] == ["c1"]
    assert enrolments(platform.opstore, broken) == []


def test_a_purchase_during_the_wait_before_a_wait_for_counts_for_it(platform: Platform) -> None:
    document = doc(name="cart-hour")
    document.pop("goal")
    document["start"] = "an-hour"
    document["steps"] = {
        "an-hour": {"wait": "1h", "next": "bought"},
        "bought": {
            "wait_for": {"event": "Order Completed", "same_key": True, "timeout": "23h"},
            "on_event": "thanks",
            "on_timeout": "reminder",
        },
        "thanks": {"exit": {"reason": "bought"}},
        "reminder": {"exit": {"reason": "reminded"}},
    }
    journey = live_journey(platform.opstore, document)
    _, runner = trigger_of(platform)
    runtime = platform.journeys.runtime
    store_events(
        platform,
        [
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c1"}},
            {"user": "ann", "event": "Product Added", "props": {"cartId": "c2"}},
        ],
    )
    runner.catch_up()
    runtime.run_due()  # the hour's wait begins; bought is next
    store_events(platform, [{"user": "ann", "event": "Order Completed", "props": {"cartId": "c1"}}])
    runner.catch_up()  # bought within the hour
    later = utcnow() + timedelta(hours=1, minutes=1)
    runtime.run_due(now=later)
    runtime.run_due(now=later)
    runtime.run_due(now=later + timedelta(days=1))
    c1, c2 = enrolments(platform.opstore, journey)
    assert (c1.exit_reason, c2.exit_reason) == ("bought", "reminded")


def test_the_trigger_stamps_entries_and_matches_with_the_engines_clock(
    platform: Platform,
) -> None:
    """A virtual clock set on the runtime (as the demo does) is the trigger's "now" too."""
    journey = live_journey(platform.opstore, WAIT_ONLY)
    _, runner = trigger_of(platform)
    virtual = [utcnow().replace(microsecond=0) + timedelta(hours=5)]
    platform.journeys.runtime.clock = lambda: virtual[0]
    store_events(platform, [{"user": "ann", "event": "Product Added", "props": {"cartId": "c1"}}])
    runner.catch_up()
    [row] = enrolments(platform.opstore, journey)
    assert (row.entered_at, row.due_at) == (virtual[0], virtual[0])
    make_waiting(
        platform.opstore, row.id, "bought", "Order Completed", virtual[0].replace(year=2099)
    )
    virtual[0] += timedelta(minutes=30)
    store_events(platform, [{"user": "ann", "event": "Order Completed", "props": {"cartId": "c1"}}])
    runner.catch_up()
    [row] = enrolments(platform.opstore, journey)
    assert row.matched_at == virtual[0] and row.due_at == virtual[0]
    # The engine runs on the same clock (on the real one the match is 5 h in the future).
    assert platform.journeys.runtime.run_due() > 0  # due at the virtual now, run at it


def test_a_capped_journey_takes_the_same_people_whatever_order_one_moments_events_came_in(
    platform: Platform, journey_home: JourneyHome
) -> None:
    """A segment refresh stores thousands of Segment Entered at one moment, in whatever
    order the warehouse produced its members: the cap's places go by person, not by that
    order, so a demo with a given seed enrols the same people every run."""
    journey = live_journey(platform.opstore, doc(name="capped", limits={"entries_per_day": 2}))
    _, runner = trigger_of(platform)
    at = utcnow().replace(tzinfo=None)
    by_profile = sorted(journey_home.profiles.items(), key=lambda item: item[1], reverse=True)
    store_events(  # stored in the reverse order of their people
        platform,
        [
            {"user": user, "event": "Product Added", "props": {"cartId": f"c-{user}"}, "at": at}
            for user, _ in by_profile
        ],
    )
    runner.catch_up()
    entered = sorted(r.subject for r in enrolments(platform.opstore, journey))
    assert entered == sorted(p for _, p in by_profile)[:2]
