"""``platform.journeys.simulate``: a dry run over the last days of real stored events.

The events are appended to the journey home of conftest.py (six people with profiles,
ann bob cy dee eve fay; eve has no email) plus one visitor known only by an anonymous id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from omnichannel.config import Settings
from omnichannel.errors import ValidationError
from omnichannel.journeys.definition import parse_journey
from omnichannel.journeys.split import arm_for
from omnichannel.opstore.models import JourneyEnrolment, JourneyStep, OutboxMessage
from omnichannel.platform import Platform
from tests.journeys.o_support import CART, cart, store_events, with_step
from tests.support.cache import copy_home

D = datetime(2026, 3, 20)  # the window is the 7 days up to NOW
NOW = datetime(2026, 3, 27, tzinfo=UTC)
ADDED, ORDERED = "Product Added", "Order Completed"
# Without the goal: each person's path is the steps alone.
NO_GOAL = {k: v for k, v in CART.items() if k != "goal"}
PLAIN = {
    **NO_GOAL,
    "start": "wait-an-hour",
    "steps": {
        "wait-an-hour": {"wait": "1h", "next": "bought"},
        "bought": CART["steps"]["bought"] | {"on_timeout": "reminder"},
        "reminder": CART["steps"]["reminder"],
        "done": {"exit": {}},
    },
}


def _added(at: datetime, cart_id: str | None, **who: str) -> dict[str, object]:
    return {"event": ADDED, "at": at, "props": {"cartId": cart_id} if cart_id else {}, **who}


EVENTS = [
    _added(D + timedelta(hours=10), "c1", user="ann"),
    {"event": ORDERED, "at": D + timedelta(hours=12), "props": {"cartId": "c1"}, "user": "ann"},
    _added(D + timedelta(days=1, hours=10), "c2", user="bob"),
    # bob buys another cart: not the one waited for.
    {
        "event": ORDERED,
        "at": D + timedelta(days=1, hours=12),
        "props": {"cartId": "c99"},
        "user": "bob",
    },
    _added(D + timedelta(days=1, hours=11), "c3", user="eve"),  # no email
    _added(D + timedelta(days=2), "c9", anon="visitor-1"),  # no profile
    _added(D + timedelta(days=2, hours=9), "c4", user="cy"),
    _added(D + timedelta(days=2, hours=9, minutes=30), "c4", user="cy"),  # c4 is in flight
    _added(D + timedelta(days=2, hours=9, minutes=45), "c5", user="cy"),  # another cart
    _added(D + timedelta(days=6, hours=23, minutes=30), "c6", user="dee"),  # not done by NOW
    _added(D + timedelta(days=3), None, user="fay"),  # no cartId: no entry
    _added(D - timedelta(days=1), "c0", user="fay"),  # before the window
]


@pytest.fixture(scope="module")
def shop(
    journey_template: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """One home with EVENTS for the module: a simulation writes nothing, so tests share it
    (the one that adds events has its own, ``own_shop``)."""
    home = copy_home(journey_template[0], tmp_path_factory.mktemp("simulate") / "home")
    with Platform(Settings(home=home)) as platform:
        store_events(platform, EVENTS)
        yield platform


@pytest.fixture
def own_shop(platform: Platform) -> Platform:
    store_events(platform, EVENTS)
    return platform


def _steps(answer: dict[str, object]) -> dict[str, dict[str, object]]:
    return {s["step"]: s for s in answer["steps"]}  # type: ignore[attr-defined, index]


def test_who_would_enter_reach_each_step_and_be_sent_what(shop: Platform) -> None:
    answer = shop.journeys.simulate(PLAIN, days=7, now=NOW)
    assert answer["entered"] == 7 and answer["people"] == 6
    assert answer["refused"] == {"in_flight_same_key": 1, "no_key": 1}
    steps = _steps(answer)
    assert steps["wait-an-hour"]["reached"] == 7
    assert steps["wait-an-hour"]["waiting"] == 1  # dee, still waiting at the window's end
    assert steps["bought"]["routes"] == {"on_event": 1, "on_timeout": 5}
    assert steps["reminder"]["reached"] == 5
    assert answer["sends"] == [
        {
            "step": "reminder",
            "channel": "email",
            "template": "cart-reminder",
            "would_send": 3,  # bob, and cy's two carts
            "no_address": 1,  # eve
            "no_profile": 1,  # visitor-1
        }
    ]
    assert answer["exited"] == {"exit_step": 6} and answer["in_flight"] == 1
    # Sends nothing, writes nothing.
    with shop.opstore.session() as session:
        for table in (OutboxMessage, JourneyEnrolment, JourneyStep):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_reentry_and_the_daily_cap_refuse_entries(own_shop: Platform) -> None:
    shop = own_shop
    # ann adds cart c1 again three days after her first journey with it ended.
    store_events(shop, [_added(D + timedelta(days=3, hours=10), "c1", user="ann")], prefix="x")
    again = {"in_flight_same_key": 1, "no_key": 1}
    never = shop.journeys.simulate({**PLAIN, "reentry": {"mode": "never"}}, days=7, now=NOW)
    assert never["entered"] == 7 and never["refused"] == {**again, "reentry": 1}
    # cy's second cart is another key: re-entry is per person and entry key.
    soon = {**PLAIN, "reentry": {"mode": "after", "wait": "5d"}}
    assert shop.journeys.simulate(soon, days=7, now=NOW)["refused"] == {**again, "reentry": 1}
    later = {**PLAIN, "reentry": {"mode": "after", "wait": "2d"}}
    assert shop.journeys.simulate(later, days=7, now=NOW)["entered"] == 8
    capped = shop.journeys.simulate({**PLAIN, "limits": {"entries_per_day": 1}}, days=7, now=NOW)
    # One a day: ann, bob, the visitor, ann again, dee. Refused: eve, and cy's three (c4
    # never entered, so its second Product Added is no longer in flight).
    assert capped["entered"] == 5
    assert capped["refused"] == {"limit:entries_per_day": 4, "no_key": 1}
    one_at_a_time = shop.journeys.simulate({**PLAIN, "limits": {"in_flight": 1}}, days=7, now=NOW)
    # bob is in from D+1 10:00 to D+2 10:00: eve, the visitor and cy's three wait in vain.
    assert one_at_a_time["entered"] == 4  # ann, bob, ann again, dee
    assert one_at_a_time["refused"] == {"limit:in_flight": 5, "no_key": 1}


def test_the_goal_converts_and_exits(shop: Platform) -> None:
    answer = shop.journeys.simulate(cart(), days=7, now=NOW)
    assert answer["converted"] == 1  # ann bought c1 within the window
    assert answer["exited"]["goal"] == 1


def test_a_split_takes_the_engines_arms(shop: Platform) -> None:
    doc = with_step(
        PLAIN,
        "bought",
        CART["steps"]["bought"] | {"on_timeout": "split"},
    )
    doc["steps"]["split"] = {
        "split": {"arms": [{"name": "remind", "weight": 1, "next": "reminder"}], "holdout": 50}
    }
    answer = shop.journeys.simulate(doc, days=7, now=NOW)
    split = parse_journey(doc).steps["split"].split  # type: ignore[union-attr]
    profiles = _profiles(shop)
    # Who timed out waiting, by the Product Added message id that enrolled them.
    timed_out = [
        (profiles["bob"], "o-2"),
        (profiles["eve"], "o-4"),
        ("anonymous_id:visitor-1", "o-5"),
        (profiles["cy"], "o-6"),
        (profiles["cy"], "o-8"),
    ]
    expected: dict[str, int] = {}
    for subject, ref in timed_out:
        arm = arm_for(f"sim:{subject}:{ref}:split", split)
        expected[arm] = expected.get(arm, 0) + 1
    assert _steps(answer)["split"]["routes"] == expected
    assert _steps(answer)["reminder"]["reached"] == expected.get("remind", 0)


def _profiles(platform: Platform) -> dict[str, str]:
    with platform.warehouse.reader() as wh:
        pi = wh.table("profile_identifiers")
        rows = pi.filter(pi.id_type == "user_id").select("profile_id", "id_value")
        return {r["id_value"]: r["profile_id"] for r in rows.to_pyarrow().to_pylist()}


def test_a_condition_is_the_segment_language(shop: Platform) -> None:
    doc = with_step(PLAIN, "wait-an-hour", {"wait": "1h", "next": "buyer"})
    doc["steps"]["buyer"] = {"condition": {"segment": "buyers"}, "then": "bought", "else": "done"}
    answer = shop.journeys.simulate(doc, days=7, now=NOW)
    # Everyone with a profile ordered once (the home's events); the visitor has none.
    assert _steps(answer)["buyer"]["routes"] == {"then": 5, "else": 1}


def test_wait_send_time_asks_the_send_times(shop: Platform) -> None:
    # No send-time model is built: next_best answers the moment asked, so nobody waits.
    doc = with_step(
        PLAIN, "wait-an-hour", {"wait_send_time": {"channel": "email"}, "next": "bought"}
    )
    answer = shop.journeys.simulate(doc, days=7, now=NOW)
    waited = _steps(answer)["wait-an-hour"]
    assert (waited["kind"], waited["reached"], waited["routes"]) == (
        "wait_send_time",
        7,
        {"next": 7},
    )
    # Nobody waits there, so dee (her cart came at 23:30) is in "bought" at the end.
    assert waited["waiting"] == 0
    assert _steps(answer)["bought"]["waiting"] == 1


def test_a_stored_journey_by_name_and_bad_input(own_shop: Platform) -> None:
    shop = own_shop
    shop.journeys.create(PLAIN, actor="ana")
    assert shop.journeys.simulate("cart", days=7, now=NOW)["entered"] == 7
    with pytest.raises(ValidationError, match="days=0 is not accepted"):
        shop.journeys.simulate("cart", days=0, now=NOW)
    with pytest.raises(ValidationError) as bad:
        shop.journeys.simulate(
            with_step(PLAIN, "reminder", {"send": {"channel": "email", "template": "x"}})
        )
    assert bad.value.field == "steps.reminder.send.template"


def test_schedule_entries_and_wait_until_in_the_installations_zone(shop: Platform) -> None:
    doc = {
        "name": "daily",
        "entry": {"schedule": {"cron": "0 9 * * *", "segment": "buyers"}},
        "reentry": {"mode": "always"},
        "start": "morning",
        "steps": {
            "morning": {"wait_until": {"time": "08:00"}, "next": "hello"},
            "hello": {"send": {"channel": "email", "template": "welcome"}},
        },
    }
    answer = shop.journeys.simulate(doc, days=7, now=NOW)
    # 7 daily ticks x 6 members; each waits until 08:00 the next day, so the last tick's
    # people are still waiting at the window's end.
    assert answer["entered"] == 42 and answer["refused"] == {}
    assert _steps(answer)["morning"]["waiting"] == 6
    assert answer["sends"][0] == {
        "step": "hello",
        "channel": "email",
        "template": "welcome",
        "would_send": 30,  # everyone but eve, six days
        "no_address": 6,
        "no_profile": 0,
    }
    assert answer["completed"] == 36


def test_date_and_segment_entries(shop: Platform) -> None:
    hello = {"hello": {"send": {"channel": "email", "template": "welcome"}}}
    # The home's people were last seen on 2026-03-02 ... 03-07, one a day.
    anniversary = {
        "name": "first-order",
        "entry": {"date": {"trait": "last_seen", "at": "10:00"}},
        "start": "hello",
        "steps": hello,
    }
    dated = shop.journeys.simulate(anniversary, days=5, now=datetime(2027, 3, 6, tzinfo=UTC))
    assert dated["entered"] == 4  # 03-02 ... 03-05, at 10:00 in the installation's zone
    with pytest.raises(ValidationError) as unknown:
        shop.journeys.simulate({**anniversary, "entry": {"date": {"trait": "birthday"}}}, days=5)
    assert unknown.value.field == "entry.date.trait"
    # The segment "buyers" was refreshed when the home was built: six entries, stored then.
    joined = {
        "name": "joined",
        "entry": {"segment": {"entered": "buyers"}},
        "start": "hello",
        "steps": hello,
    }
    assert shop.journeys.simulate(joined, days=30)["entered"] == 6
