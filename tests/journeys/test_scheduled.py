"""Date and schedule entries (the journey-entries job): local moments, caught up once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa

from omnichannel.journeys.scheduled import enter_scheduled
from omnichannel.platform import Platform
from tests.journeys.conftest import JourneyHome
from tests.journeys.e2_support import enrolments, live_journey, store_events

STEPS = {"start": "hello", "steps": {"hello": {"exit": {}}}}
JUNE = datetime(2026, 6, 1, tzinfo=UTC)


def _birthdays(platform: Platform, people: dict[str, tuple[str, date]]) -> None:
    """A loyalty record with a birth date per person, as identity resolution links it."""
    ids = list(people)
    with platform.warehouse.writer() as wh:
        wh.append(
            "customer_records",
            pa.table(
                {
                    "source": ["loyalty"] * len(ids),
                    "record_id": [f"l-{p}" for p in ids],
                    "birth_date": pa.array([people[p][1] for p in ids], pa.date32()),
                    "updated_at": pa.array([datetime(2026, 1, 1)] * len(ids), pa.timestamp("us")),
                }
            ),
        )
        wh.append(
            "record_profiles",
            pa.table(
                {
                    "source": ["loyalty"] * len(ids),
                    "record_id": [f"l-{p}" for p in ids],
                    "profile_id": [people[p][0] for p in ids],
                }
            ),
        )


def test_a_birthday_enters_at_nine_in_shanghai_and_at_nine_in_new_york(
    platform: Platform, journey_home: JourneyHome
) -> None:
    ann, bob = journey_home.profiles["ann"], journey_home.profiles["bob"]
    _birthdays(platform, {"ann": (ann, date(1990, 6, 15)), "bob": (bob, date(1985, 6, 15))})
    store_events(
        platform,
        [
            {"user": "ann", "event": "App Opened", "tz": "Asia/Shanghai"},
            {"user": "bob", "event": "App Opened", "tz": "America/New_York"},
        ],
    )
    journey = live_journey(
        platform.opstore,
        {"name": "birthday", "entry": {"date": {"trait": "birth_date", "at": "09:00"}}, **STEPS},
        started_at=JUNE,
    )
    shanghai_nine = datetime(2026, 6, 15, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    new_york_nine = datetime(2026, 6, 15, 9, tzinfo=ZoneInfo("America/New_York"))
    minute = timedelta(minutes=1)
    first = enter_scheduled(platform, now=shanghai_nine - minute, since=shanghai_nine - 10 * minute)
    assert first.enrolled == {"birthday": 1}
    second = enter_scheduled(platform, now=new_york_nine - minute, since=first.until)
    assert second.enrolled == {"birthday": 1}
    rows = enrolments(platform.opstore, journey)
    assert [(r.subject, r.due_at, r.entry_ref) for r in rows] == [
        (ann, shanghai_nine.astimezone(UTC), f"date:2026-06-15:{ann}"),
        (bob, new_york_nine.astimezone(UTC), f"date:2026-06-15:{bob}"),
    ]
    assert rows[0].context["entry"]["timezone"] == "Asia/Shanghai"
    # The same window again (a run repeated after a crash): nobody twice.
    again = enter_scheduled(platform, now=new_york_nine - minute, since=shanghai_nine - minute)
    assert again.enrolled == {"birthday": 0}
    assert len(enrolments(platform.opstore, journey)) == 2


def test_a_schedule_tick_missed_while_down_is_caught_up_once_and_an_older_one_is_left(
    platform: Platform,
) -> None:
    zone = ZoneInfo(platform.config.timezone)
    journey = live_journey(
        platform.opstore,
        {
            "name": "daily",
            "entry": {"schedule": {"cron": "0 9 * * *", "timezone": "installation"}},
            **STEPS,
        },
        started_at=JUNE,
    )
    tick = datetime(2026, 6, 10, 9, tzinfo=zone).astimezone(UTC)
    early = enter_scheduled(
        platform, now=tick - timedelta(hours=3), since=tick - timedelta(hours=4)
    )
    assert early.enrolled == {"daily": 0}
    # Down from then until five hours after the tick: the next run starts where it stopped.
    late = enter_scheduled(platform, now=tick + timedelta(hours=5), since=early.until)
    assert late.enrolled == {"daily": 6}  # everyone with a profile, no segment named
    assert {r.due_at for r in enrolments(platform.opstore, journey)} == {tick}
    assert enter_scheduled(platform, now=tick + timedelta(hours=5), since=early.until).enrolled == {
        "daily": 0
    }

    stale = live_journey(
        platform.opstore,
        {
            "name": "stale",
            "entry": {"schedule": {"cron": "0 9 * * *", "timezone": "installation"}},
            **STEPS,
        },
        started_at=JUNE,
    )
    # Down for 30 hours: yesterday's tick is caught up, the one before is a day too old.
    back = enter_scheduled(platform, now=tick + timedelta(hours=30), since=tick - timedelta(days=3))
    assert back.enrolled["stale"] == 6
    assert {r.due_at for r in enrolments(platform.opstore, stale)} == {tick + timedelta(days=1)}


def test_the_job_is_registered_and_starts_where_its_last_run_stopped(platform: Platform) -> None:
    run = platform.jobs.run("journey-entries")
    assert run.status == "succeeded", run.error
    until = datetime.fromisoformat(run.detail["until"])
    assert enter_scheduled(platform).since == until


def test_a_schedule_in_each_persons_zone_enters_them_at_their_own_nine(
    platform: Platform, journey_home: JourneyHome
) -> None:
    bob = journey_home.profiles["bob"]
    store_events(platform, [{"user": "bob", "event": "App Opened", "tz": "America/New_York"}])
    journey = live_journey(
        platform.opstore,
        {"name": "mornings", "entry": {"schedule": {"cron": "0 9 * * *"}}, **STEPS},
        started_at=JUNE,
    )
    new_york_nine = datetime(2026, 6, 10, 9, tzinfo=ZoneInfo("America/New_York"))
    minute = timedelta(minutes=1)
    run = enter_scheduled(platform, now=new_york_nine - minute, since=new_york_nine - 5 * minute)
    assert run.enrolled == {"mornings": 1}  # the others' zone (the installation's) is not at 9
    (row,) = enrolments(platform.opstore, journey)
    assert (row.subject, row.due_at) == (bob, new_york_nine.astimezone(UTC))
    assert row.entry_ref == f"schedule:{new_york_nine.astimezone(UTC).isoformat()}:{bob}"
