"""The journey engine on the six people of ``journey_home``: each step kind, run with a
given clock (``run_due(now=...)``), recorded once per visit, effects keyed per visit.

People (tests/segments/audience.py): ann and bob can be emailed; cy, dee and fay have
unsubscribed from email; eve has no address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
from sqlalchemy import select

from omnichannel.journeys.runtime import JourneyRuntime
from omnichannel.journeys.steps import next_local_time
from omnichannel.opstore.models import EnrolmentState, JourneyEnrolment, JourneyStatus, utcnow
from omnichannel.platform import Platform
from tests.journeys.conftest import JourneyHome
from tests.journeys.e1_support import (
    EMAIL_CONTENT,
    add_journey,
    enrol_people,
    enrolments,
    outbox,
    set_status,
    step_rows,
    steps_of,
    use_smtp,
)

PEOPLE = ("ann", "bob", "cy", "dee", "eve", "fay")

WELCOME = {
    "name": "welcome",
    "entry": {"event": {"name": "Signed Up"}},
    "start": "settle",
    "steps": {
        "settle": {"wait": "1h", "next": "is-bob"},
        "is-bob": {
            "condition": {"event": {"name": "Loyalty Joined"}},
            "then": "bob-mail",
            "else": "hello",
        },
        "bob-mail": {
            "send": {"channel": "email", "content": EMAIL_CONTENT, "campaign": "vip-2026"},
            "next": "bye",
        },
        "hello": {"send": {"channel": "email", "content": EMAIL_CONTENT}},
        "bye": {"exit": {"reason": "done"}},
    },
}


def _event(
    platform: Platform,
    user: str,
    name: str,
    message_id: str,
    tz: str | None = None,
    at: datetime = datetime(2026, 11, 1, 12, 0),
) -> None:
    with platform.warehouse.writer() as wh:
        wh.append(
            "events",
            pa.table(
                {
                    "message_id": [message_id],
                    "type": ["track"],
                    "event": [name],
                    "user_id": [user],
                    "timestamp": [at],
                    "context_timezone": pa.array([tz], pa.string()),
                    "loaded_at": [at],
                }
            ),
        )


def _everyone(platform: Platform, profiles: dict[str, str], document: dict, now: datetime) -> int:
    journey_id = add_journey(platform.opstore, document)
    subjects = [(profiles[p], profiles[p]) for p in PEOPLE]
    enrol_people(platform.opstore, journey_id, subjects, start=document["start"], now=now)
    return journey_id


def test_a_journey_runs_wait_condition_send_and_exit_once_per_visit(platform, journey_home):
    use_smtp(platform, 9)  # nothing is delivered here: the outbox is what is checked
    profiles = journey_home.profiles
    _event(platform, "bob", "Loyalty Joined", "loyal-bob")
    t0 = utcnow()
    journey_id = _everyone(platform, profiles, WELCOME, t0)
    runtime = JourneyRuntime(platform)

    assert runtime.run_due(now=t0) == 6  # everyone starts waiting an hour
    assert runtime.run_due(now=t0 + timedelta(minutes=59)) == 0
    # An hour later: the condition, the send, and (bob) the exit, round after round.
    assert runtime.run_due(now=t0 + timedelta(hours=1)) == 6 + 6 + 1
    assert runtime.run_due(now=t0 + timedelta(hours=2)) == 0

    rows = enrolments(platform.opstore, journey_id)
    bob, ann = rows[profiles["bob"]], rows[profiles["ann"]]
    assert steps_of(platform.opstore, bob.id) == [
        (0, "settle", "next"),
        (1, "is-bob", "then"),
        (2, "bob-mail", "queued"),
        (3, "bye", "exit"),
    ]
    assert (bob.state, bob.exit_reason, bob.open_key) == (EnrolmentState.EXITED, "done", None)
    assert steps_of(platform.opstore, ann.id) == [
        (0, "settle", "next"),
        (1, "is-bob", "else"),
        (2, "hello", "queued"),
    ]
    # A step with no next completes the enrolment.
    assert ann.state == EnrolmentState.COMPLETED and ann.finished_at is not None
    outcomes = {p: steps_of(platform.opstore, rows[profiles[p]].id)[2][2] for p in ("cy", "eve")}
    assert outcomes == {"cy": "dropped", "eve": "dropped"}  # unsubscribed; no address
    messages = {m.idempotency_key: m for m in outbox(platform.opstore)}
    assert len(messages) == 6
    assert messages[f"journey:{bob.id}:2"].journey_step == "bob-mail"
    assert messages[f"journey:{ann.id}:2"].origin == "journey"
    assert messages[f"journey:{ann.id}:2"].journey_id == journey_id
    # Funnels and KPIs count a journey's messages under its name, or the step's campaign.
    assert messages[f"journey:{ann.id}:2"].campaign == WELCOME["name"]
    assert messages[f"journey:{bob.id}:2"].campaign == "vip-2026"
    assert {m.reason for m in messages.values() if m.reason} == {"consent", "no_address"}
    assert all(r.lease_holder is None for r in rows.values())


def test_a_paused_journey_runs_nothing_until_it_is_live_again(platform, journey_home):
    use_smtp(platform, 9)
    t0 = utcnow()
    journey_id = _everyone(platform, journey_home.profiles, WELCOME, t0)
    set_status(platform.opstore, journey_id, JourneyStatus.PAUSED)
    runtime = JourneyRuntime(platform)
    assert runtime.run_due(now=t0 + timedelta(hours=3)) == 0
    set_status(platform.opstore, journey_id, JourneyStatus.ARCHIVED)
    assert runtime.run_due(now=t0 + timedelta(hours=3)) == 0
    set_status(platform.opstore, journey_id, JourneyStatus.LIVE)
    assert runtime.run_due(now=t0 + timedelta(hours=3)) == 6


WAIT_FOR = {
    "name": "cart",
    "entry": {"event": {"name": "Product Added"}},
    "start": "bought",
    "steps": {
        "bought": {
            "wait_for": {"event": "Order Completed", "timeout": "1d"},
            "on_event": "thanks",
            "on_timeout": "remind",
        },
        "thanks": {"exit": {"reason": "bought"}},
        "remind": {"exit": {"reason": "reminded"}},
    },
}


def test_wait_for_takes_on_event_when_matched_else_on_timeout(platform, journey_home):
    profiles = journey_home.profiles
    t0 = utcnow()
    journey_id = add_journey(platform.opstore, WAIT_FOR)
    subjects = [(profiles["ann"], profiles["ann"]), (profiles["bob"], profiles["bob"])]
    enrol_people(platform.opstore, journey_id, subjects, start="bought", now=t0)
    runtime = JourneyRuntime(platform)
    assert runtime.run_due(now=t0) == 0  # the wait begins: no step executed yet
    rows = enrolments(platform.opstore, journey_id)
    ann = rows[profiles["ann"]]
    assert (ann.state, ann.wait_event, ann.visit) == (
        EnrolmentState.WAITING,
        "Order Completed",
        0,
    )
    assert ann.due_at == t0 + timedelta(days=1)
    # The trigger (entries) matches ann's order: matched_at, due now, active.
    with platform.opstore.session() as session:
        row = session.get(JourneyEnrolment, ann.id)
        assert row is not None
        row.matched_at = t0 + timedelta(hours=2)
        row.context = {**row.context, "matched": {"orderId": "o-1"}}
        row.state = EnrolmentState.ACTIVE
        row.due_at = t0 + timedelta(hours=2)
    assert runtime.run_due(now=t0 + timedelta(hours=2)) == 2  # ann: bought, thanks
    assert runtime.run_due(now=t0 + timedelta(hours=23)) == 0
    assert runtime.run_due(now=t0 + timedelta(days=1)) == 2  # bob: timed out, reminded
    rows = enrolments(platform.opstore, journey_id)
    assert steps_of(platform.opstore, ann.id) == [(0, "bought", "on_event"), (1, "thanks", "exit")]
    assert rows[profiles["ann"]].exit_reason == "bought"
    bob = rows[profiles["bob"]]
    assert steps_of(platform.opstore, bob.id) == [
        (0, "bought", "on_timeout"),
        (1, "remind", "exit"),
    ]
    [matched] = [r for r in step_rows(platform.opstore, journey_id) if r.outcome == "on_event"]
    assert matched.detail["matched"] == {"orderId": "o-1"}


HOLDOUT = {
    "name": "held",
    "entry": {"event": {"name": "Signed Up"}},
    "goal": {"event": "Order Completed", "within": "3d"},
    "start": "ab",
    "steps": {
        "ab": {"split": {"arms": [{"name": "mail", "weight": 1, "next": "bye"}], "holdout": 50}},
        "bye": {"exit": {}},
    },
}


def test_split_arms_are_recorded_and_holdouts_stay_open_until_the_goal_window_closes(
    platform, journey_home
):
    t0 = utcnow()
    journey_id = add_journey(platform.opstore, HOLDOUT)
    subjects = [(f"user_id:u{n}", None) for n in range(40)]
    enrol_people(
        platform.opstore, journey_id, subjects, start="ab", now=t0, goal_within=timedelta(days=3)
    )
    runtime = JourneyRuntime(platform)
    runtime.run_due(now=t0)
    rows = list(enrolments(platform.opstore, journey_id).values())
    held = [r for r in rows if r.arm == "holdout"]
    treated = [r for r in rows if r.arm == "mail"]
    assert held and treated and len(held) + len(treated) == 40
    assert all(r.state == EnrolmentState.EXITED for r in treated)
    assert all(r.state == EnrolmentState.WAITING and r.open_key for r in held)
    assert all(r.due_at == t0 + timedelta(days=3) for r in held)
    # The same enrolment always draws the same arm (simulate predicts it).
    from omnichannel.journeys.definition import parse_journey
    from omnichannel.journeys.split import arm_for

    split = parse_journey(HOLDOUT).steps["ab"].split  # type: ignore[union-attr]
    assert all(arm_for(f"{r.id}:ab", split) == r.arm for r in rows)
    assert runtime.run_due(now=t0 + timedelta(days=2)) == 0
    runtime.run_due(now=t0 + timedelta(days=3))
    done = enrolments(platform.opstore, journey_id)
    assert all(done[r.subject].state == EnrolmentState.COMPLETED for r in held)
    assert all(done[r.subject].exit_reason == "holdout" for r in held)
    assert all(done[r.subject].open_key is None for r in held)


NO_PROFILE = {
    "name": "early",
    "entry": {"event": {"name": "Signed Up"}},
    "start": "hello",
    "steps": {"hello": {"send": {"channel": "email", "content": EMAIL_CONTENT}}},
}


def test_a_send_to_someone_without_a_profile_is_retried_for_an_hour_then_recorded(
    platform, journey_home
):
    use_smtp(platform, 9)
    t0 = utcnow()
    journey_id = add_journey(platform.opstore, NO_PROFILE)
    enrol_people(platform.opstore, journey_id, [("user_id:nobody", None)], start="hello", now=t0)
    runtime = JourneyRuntime(platform)
    assert runtime.run_due(now=t0) == 0
    [row] = enrolments(platform.opstore, journey_id).values()
    assert row.due_at == t0 + timedelta(minutes=5) and row.visit == 0
    for minutes in range(5, 60, 5):
        assert runtime.run_due(now=t0 + timedelta(minutes=minutes)) == 0
    assert runtime.run_due(now=t0 + timedelta(minutes=60)) == 1
    assert steps_of(platform.opstore, row.id) == [(0, "hello", "no_profile")]
    assert outbox(platform.opstore) == []
    # Someone whose identifier the lookup knows is sent to at once, and gets their profile.
    [bob_id] = enrol_people(
        platform.opstore, journey_id, [("user_id:bob", None)], start="hello", now=t0
    )
    assert runtime.run_due(now=t0) == 1
    bob = journey_home.profiles["bob"]
    assert enrolments(platform.opstore, journey_id)["user_id:bob"].profile_id == bob
    assert [(m.profile_id, m.idempotency_key) for m in outbox(platform.opstore)] == [
        (bob, f"journey:{bob_id}:0")
    ]


def test_wait_until_is_the_local_time_in_the_persons_zone(platform, journey_home):
    profiles = journey_home.profiles
    # ann's latest event says Asia/Shanghai; bob's events say no zone: the installation's.
    _event(platform, "ann", "Page Viewed", "tz-ann", tz="Asia/Shanghai")
    document = {
        "name": "morning",
        "entry": {"event": {"name": "Signed Up"}},
        "start": "nine",
        "steps": {
            "nine": {"wait_until": {"time": "09:00", "days": ["mon"]}, "next": "bye"},
            "bye": {"exit": {}},
        },
    }
    journey_id = add_journey(platform.opstore, document)
    subjects = [(profiles[p], profiles[p]) for p in ("ann", "bob")]
    t0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # a Tuesday
    enrol_people(platform.opstore, journey_id, subjects, start="nine", now=t0)
    JourneyRuntime(platform).run_due(now=t0)
    rows = enrolments(platform.opstore, journey_id)
    home_zone = ZoneInfo(platform.config.timezone)
    assert rows[profiles["ann"]].due_at == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 +8
    expected = datetime(2026, 12, 7, 9, 0, tzinfo=home_zone).astimezone(UTC)
    assert rows[profiles["bob"]].due_at == expected


def test_next_local_time_skips_to_the_next_allowed_day_and_keeps_the_wall_clock_over_dst():
    paris = ZoneInfo("Europe/Paris")
    # Saturday 28 March 2026, 10:00 in Paris; clocks go forward on Sunday the 29th.
    now = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)
    assert next_local_time(now, "09:00", [], paris) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert next_local_time(now, "11:00", [], paris) == datetime(2026, 3, 28, 10, 0, tzinfo=UTC)
    monday = next_local_time(now, "09:00", ["mon"], paris)
    assert monday == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_update_stores_one_identify_event_per_visit_even_when_run_again(platform, journey_home):
    profiles = journey_home.profiles
    document = {
        "name": "vip",
        "entry": {"event": {"name": "Signed Up"}},
        "start": "mark",
        "steps": {"mark": {"update": {"traits": {"tier": "gold"}, "add_tags": ["vip"]}}},
    }
    journey_id = add_journey(platform.opstore, document)
    t0 = utcnow()
    [ann_id] = enrol_people(
        platform.opstore, journey_id, [(profiles["ann"], profiles["ann"])], start="mark", now=t0
    )
    runtime = JourneyRuntime(platform)
    from omnichannel.journeys.engine import Definitions, claim
    from omnichannel.journeys.steps import decide

    # A worker that ran the step and died before recording it: the effect is stored ...
    with platform.opstore.session() as session:
        claimed = claim(
            session,
            holder="dead",
            limit=10,
            lease=timedelta(seconds=1),
            now=t0,
            definitions=Definitions(),
        )
    decide(platform, claimed, t0)
    # ... and the step runs again once the lease has expired: no second event.
    assert runtime.run_due(now=t0 + timedelta(seconds=2)) == 1
    assert steps_of(platform.opstore, ann_id) == [(0, "mark", "updated")]
    with platform.warehouse.reader() as wh:
        events = wh.table("events")
        stored = events.filter(events.message_id == f"journey:{ann_id}:0").to_pyarrow().to_pylist()
    assert len(stored) == 1
    assert stored[0]["type"] == "identify" and stored[0]["user_id"] == "ann"
    assert '"tier":"gold"' in stored[0]["traits"].replace(" ", "")


def test_a_lease_keeps_others_off_until_it_expires_and_a_late_worker_records_nothing(
    platform, journey_home
):
    from omnichannel.journeys.engine import Definitions, claim, record
    from omnichannel.journeys.steps import decide

    profiles = journey_home.profiles
    t0 = utcnow()
    journey_id = _everyone(platform, profiles, WELCOME, t0)
    lease = timedelta(seconds=30)
    with platform.opstore.session() as session:
        mine = claim(session, holder="a", limit=4, lease=lease, now=t0, definitions=Definitions())
    assert len(mine) == 4
    other = JourneyRuntime(platform, holder="b")
    assert other.run_due(now=t0 + timedelta(seconds=10)) == 2  # only the two not leased
    # After the lease expires, b takes over a's enrolments ...
    assert other.run_due(now=t0 + timedelta(seconds=31)) == 4
    # ... and a, back from a long pause, records nothing: the lease is no longer its own.
    late = decide(platform, mine, t0)
    with platform.opstore.session() as session:
        assert record(session, holder="a", decisions=late, now=t0 + timedelta(seconds=40)) == []
    rows = step_rows(platform.opstore, journey_id)
    assert len(rows) == 6 and len({(r.enrolment_id, r.visit) for r in rows}) == 6
    with platform.opstore.session() as session:
        holders = set(session.scalars(select(JourneyEnrolment.lease_holder)))
    assert holders == {None}


def test_enter_puts_the_person_into_another_live_journey_once(platform, journey_home):
    profiles = journey_home.profiles
    target = {
        "name": "second",
        "entry": {"event": {"name": "Never Sent"}},
        "start": "bye",
        "steps": {"bye": {"exit": {}}},
    }
    first = {
        "name": "first",
        "entry": {"event": {"name": "Signed Up"}},
        "start": "go",
        "steps": {"go": {"enter": {"journey": "second"}}},
    }
    second_id = add_journey(platform.opstore, target)
    first_id = add_journey(platform.opstore, first)
    t0 = utcnow()
    [ann_id] = enrol_people(
        platform.opstore, first_id, [(profiles["ann"], profiles["ann"])], start="go", now=t0
    )
    assert JourneyRuntime(platform).run_due(now=t0) == 2  # go (first), bye (second)
    assert steps_of(platform.opstore, ann_id) == [(0, "go", "entered")]
    [entered] = enrolments(platform.opstore, second_id).values()
    assert entered.entry_ref == f"enter:{ann_id}:0"
    assert entered.state == EnrolmentState.EXITED and entered.profile_id == profiles["ann"]


def test_wait_send_time_waits_for_next_best_and_a_webhook_step_is_a_keyed_send(
    platform, journey_home
):
    use_smtp(platform, 9)
    profiles = journey_home.profiles
    document = {
        "name": "best-time",
        "entry": {"event": {"name": "Signed Up"}},
        "start": "best",
        "steps": {
            "best": {"wait_send_time": {"channel": "email", "within": "12h"}, "next": "crm"},
            "crm": {"webhook": {"endpoint": "crm", "body": {"who": "{{ address }}"}}},
        },
    }
    # ann opens her email around 03:00 UTC: the model says so, and the step waits for it.
    for day in range(1, 15):
        _event(platform, "ann", "Email Opened", f"open-{day}", at=datetime(2026, 11, day, 3, 10))
    platform.send_times.build()
    journey_id = add_journey(platform.opstore, document)
    t0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    [ann_id] = enrol_people(
        platform.opstore, journey_id, [(profiles["ann"], profiles["ann"])], start="best", now=t0
    )
    best = platform.send_times.next_best(
        [profiles["ann"]], "email", after=t0, within=timedelta(hours=12)
    )[profiles["ann"]].replace(tzinfo=UTC)
    assert best > t0 + timedelta(hours=1)  # the model answers: not "now"
    runtime = JourneyRuntime(platform)
    assert runtime.run_due(now=t0) == 1
    [row] = enrolments(platform.opstore, journey_id).values()
    assert row.due_at == best and row.step == "crm"
    assert runtime.run_due(now=row.due_at) == 1
    [message] = outbox(platform.opstore)
    assert (message.channel, message.address) == ("webhook", "crm")
    assert message.idempotency_key == f"journey:{ann_id}:1"
    assert message.content["body"] == {"who": "crm"}
    assert steps_of(platform.opstore, ann_id)[1] == (1, "crm", "queued")


def test_tags_an_update_step_sets_are_the_profiles_tags_that_segments_read(
    platform: Platform, journey_home: JourneyHome
) -> None:
    profiles = journey_home.profiles
    tag = {
        "name": "tag-them",
        "entry": {"event": {"name": "Signed Up"}},
        "start": "mark",
        "steps": {"mark": {"update": {"add_tags": ["vip", "early bird"]}}},
    }
    untag = {**tag, "name": "untag", "steps": {"mark": {"update": {"remove_tags": ["early bird"]}}}}
    t0 = utcnow()
    people = [(profiles[u], profiles[u]) for u in ("ann", "bob")]
    enrol_people(platform.opstore, add_journey(platform.opstore, tag), people, start="mark", now=t0)
    assert JourneyRuntime(platform).run_due(now=t0) == 2
    later = t0 + timedelta(seconds=5)
    bob = [(profiles["bob"], profiles["bob"])]
    enrol_people(
        platform.opstore, add_journey(platform.opstore, untag), bob, start="mark", now=later
    )
    assert JourneyRuntime(platform).run_due(now=later) == 1
    platform.profiles.build(force=True)
    # The Profile API's card shows them beside the rule tags ...
    assert {"vip", "early bird"} <= set(platform.profiles.card("user_id:ann")["tags"])
    bobs = set(platform.profiles.card("user_id:bob")["tags"])
    assert "vip" in bobs and "early bird" not in bobs  # removed by the later call
    # ... and a segment on a tag has whom the journeys tagged.
    for name, members in (("vip", {"ann", "bob"}), ("early bird", {"ann"})):
        found = platform.segments.preview({"condition": {"tag": name}}, sample=10)
        assert found["size"] == len(members), (name, found)
