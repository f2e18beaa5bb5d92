"""The demo's journeys, run for real: real SMTP to the demo's sink, real HTTP tracking.

One small demo home (the shared 300-person business, its identities resolved and
profiles built here) runs ``run_journeys`` once for the module; the tests read what a
marketer would: the journeys' status and stats, the outbox, the delivery log and the
events the recipients' opens, clicks and purchases became.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from omnichannel.config import Settings
from omnichannel.demo import DemoConfig
from omnichannel.demo.journeys import CART, JOURNEYS, WELCOME, WINBACK, run_journeys
from omnichannel.installation import initialise
from omnichannel.opstore.models import Journey, JourneyEnrolment, OutboxMessage, OutboxStatus
from omnichannel.platform import Platform
from tests.support.demo import DUCKDB_FILE, cached_demo

# The business tests/identity and tests/api share: generated once per test run.
CONFIG = DemoConfig(seed=7, people=300, days=30)
pytestmark = pytest.mark.slow(seconds=40)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, dict[str, Any]]]:
    """(the home's platform, what run_journeys returned)."""
    cached = cached_demo(tmp_path_factory, CONFIG)
    home = tmp_path_factory.mktemp("demo-journeys") / "home"
    home.mkdir()
    shutil.copyfile(cached / DUCKDB_FILE, home / DUCKDB_FILE)
    shutil.copytree(cached / "truth", home / "truth")
    settings = Settings(home=home, loader_interval=0.05)
    initialise(settings)
    with Platform(settings) as platform:
        # What `omni demo` runs before the journeys, without linkage (not needed here).
        platform.identity.resolve(full=True)
        platform.profiles.build(force=True)
    summary = run_journeys(settings, config=CONFIG)
    with Platform(settings) as platform:
        yield platform, summary


def _journey_id(platform: Platform, name: str) -> int:
    with platform.opstore.session() as session:
        found = session.scalar(select(Journey.id).where(Journey.name == name))
    assert found is not None, name
    return int(found)


def _outbox(platform: Platform, journey: str, *statuses: OutboxStatus) -> list[OutboxMessage]:
    journey_id = _journey_id(platform, journey)
    with platform.opstore.session() as session:
        query = select(OutboxMessage).where(OutboxMessage.journey_id == journey_id)
        if statuses:
            query = query.where(OutboxMessage.status.in_(statuses))
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def _counts(expr: Any, key: str) -> dict[str, int]:
    return {r[key]: int(r["n"]) for r in expr.to_pyarrow().to_pylist()}


def test_the_three_journeys_ran_and_their_emails_arrived_at_the_sink(
    demo: tuple[Platform, dict[str, Any]],
) -> None:
    platform, summary = demo
    statuses = {j["name"]: j["status"] for j in platform.journeys.list()}
    # Paused once the demo's sink stopped, so `omni serve` sends nothing to a dead port.
    assert {name: statuses.get(name) for name in JOURNEYS} == dict.fromkeys(JOURNEYS, "paused")
    for name in JOURNEYS:
        sent = _outbox(platform, name, OutboxStatus.SENT)
        # Every message the email worker had accepted by SMTP was read at the sink.
        assert summary[name]["sent"] == len(sent) > 0, name
        assert summary[name]["entered"] > 0, name
    assert summary["emails_at_sink"] == sum(summary[name]["sent"] for name in JOURNEYS)
    # The welcome series sent both its emails: the second after the 2-day wait.
    steps = summary[WELCOME]["steps"]
    assert steps["welcome-1"].get("queued", 0) > 0
    assert steps["welcome-2"].get("queued", 0) == steps["wait"]["next"] > 0
    sent_at: dict[str | None, dict[str | None, Any]] = {}
    for message in _outbox(platform, WELCOME):
        sent_at.setdefault(message.profile_id, {})[message.template] = message.created_at
    gaps = [times["welcome-2"] - times["welcome-1"] for times in sent_at.values()]
    assert len(gaps) == steps["wait"]["next"]
    assert all(timedelta(days=2) <= gap <= timedelta(days=2, minutes=30) for gap in gaps), gaps


def test_recipients_opened_and_clicked_through_the_real_tracking_links(
    demo: tuple[Platform, dict[str, Any]],
) -> None:
    platform, summary = demo
    opened = sum(summary[name]["opened"] for name in JOURNEYS)
    clicked = sum(summary[name]["clicked"] for name in JOURNEYS)
    assert opened > clicked > 0
    ids = [str(_journey_id(platform, name)) for name in JOURNEYS]
    with platform.warehouse.reader() as wh:
        log = wh.table("deliveries")
        engaged = log.filter(log.journey_id.isin(ids) & log.status.isin(["opened", "clicked"]))
        counts = _counts(engaged.group_by("status").aggregate(n=engaged.count()), "status")
        events = wh.table("events")
        # The tracking routes' events name their message; the demo's history has its own.
        tracked = events.filter(
            events.event.isin(["Email Opened", "Email Link Clicked"])
            & events.properties.contains('"outbox_id"')
        )
        stored = _counts(tracked.group_by("event").aggregate(n=tracked.count()), "event")
    # The delivery log has each open and click, and the collector stored their events.
    assert counts == {"opened": opened, "clicked": clicked}
    assert stored == {"Email Opened": opened, "Email Link Clicked": clicked}


def test_opens_and_clicks_are_on_the_clock_that_sent_the_message(
    demo: tuple[Platform, dict[str, Any]],
) -> None:
    """The demo runs the platform on a virtual clock; the tracking links record what people
    do on it too, so no click comes before its message was queued (a welcome's second
    email is queued two days on) and its event says the same moment as the delivery log."""
    platform, _ = demo
    ids = [str(_journey_id(platform, name)) for name in JOURNEYS]
    with platform.warehouse.reader() as wh:
        log = wh.table("deliveries")
        mine = log.filter(log.journey_id.isin(ids))
        rows = mine.select("outbox_id", "status", "at").to_pyarrow().to_pylist()
        events = wh.table("events")
        clicks = events.filter(events.event == "Email Link Clicked").select(
            "timestamp", "properties"
        )
        stamped = clicks.to_pyarrow().to_pylist()
    queued = {r["outbox_id"]: r["at"] for r in rows if r["status"] == "queued"}
    clicked = {r["outbox_id"]: r["at"] for r in rows if r["status"] == "clicked"}
    assert clicked and all(at >= queued[o] for o, at in clicked.items())
    event_at = {
        json.loads(e["properties"])["outbox_id"]: e["timestamp"]
        for e in stamped
        if '"outbox_id"' in e["properties"]
    }
    assert {o: event_at[o] for o in clicked} == clicked


def test_the_cart_journey_waited_for_purchases_of_the_same_cart(
    demo: tuple[Platform, dict[str, Any]],
) -> None:
    platform, summary = demo
    waited = summary[CART]["steps"]["wait-for-purchase"]
    assert waited.get("on_event", 0) > 0 and waited.get("on_timeout", 0) > 0
    journey_id = _journey_id(platform, CART)
    with platform.opstore.session() as session:
        rows = session.execute(
            select(JourneyEnrolment.entry_key, JourneyEnrolment.context).where(
                JourneyEnrolment.journey_id == journey_id
            )
        ).all()
    matched = [(key, (context or {}).get("matched") or {}) for key, context in rows]
    matched = [(key, found) for key, found in matched if found]
    # Each wait ended on an Order Completed of its own cart.
    assert len(matched) == waited["on_event"]
    assert all(found.get("cartId") == key for key, found in matched)
    # Only carts nobody bought within 4 hours were reminded.
    assert len(_outbox(platform, CART)) == waited["on_timeout"]
    assert summary[CART]["converted"] >= waited["on_event"]


def test_the_win_back_holds_out_about_a_tenth_and_sends_them_nothing(
    demo: tuple[Platform, dict[str, Any]],
) -> None:
    platform, summary = demo
    winback = summary[WINBACK]
    held, treated = winback["holdout"]["entered"], winback["treated"]["entered"]
    assert held + treated == winback["entered"] > 20
    assert 0 < held < 0.25 * winback["entered"]
    journey_id = _journey_id(platform, WINBACK)
    with platform.opstore.session() as session:
        holdout = set(
            session.scalars(
                select(JourneyEnrolment.profile_id).where(
                    JourneyEnrolment.journey_id == journey_id, JourneyEnrolment.arm == "holdout"
                )
            )
        )
    reached = {m.profile_id for m in _outbox(platform, WINBACK)}
    assert len(holdout) == held and not holdout & reached
    assert reached  # the treated were sent the offer
    stats = platform.journeys.stats(WINBACK)
    assert stats["conversion"]["holdout"]["entered"] == held
    json.dumps(summary)  # what `omni demo --json` prints


def _counts_of(summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("entered", "sent", "opened", "clicked", "converted", "treated", "holdout", "steps")
    return {name: {k: summary[name][k] for k in keep} for name in JOURNEYS}


def test_a_second_demo_on_the_same_home_counts_the_same_after_reset(
    tmp_path_factory: pytest.TempPathFactory, demo: tuple[Platform, dict[str, Any]]
) -> None:
    """``omni demo --reset`` on a home that ran the demo: the warehouse is loaded again
    (here: the same seed's file copied back) and the demo's journeys are deleted with
    their enrolments, so the second run's journeys count exactly what the first did."""
    from omnichannel.cli.demo import _reset_demo_journeys
    from omnichannel.opstore import open_opstore

    _, first = demo
    cached = cached_demo(tmp_path_factory, CONFIG)
    home = tmp_path_factory.mktemp("demo-again") / "home"
    home.mkdir()
    shutil.copytree(cached / "truth", home / "truth")
    settings = Settings(home=home, loader_interval=0.05)
    initialise(settings)
    runs = []
    for _ in range(2):
        with open_opstore(settings.resolved_opstore_url) as store:
            _reset_demo_journeys(store)  # what --reset does to the operational store
        shutil.copyfile(cached / DUCKDB_FILE, home / DUCKDB_FILE)  # and to the warehouse
        with Platform(settings) as platform:
            platform.identity.resolve(full=True)
            platform.profiles.build(force=True)
        runs.append(run_journeys(settings, config=CONFIG))
    with open_opstore(settings.resolved_opstore_url) as store, store.session() as session:
        versions = dict(session.execute(select(Journey.name, Journey.version)).all())
    assert versions == dict.fromkeys(JOURNEYS, 1)  # made anew, not a second version
    assert _counts_of(runs[1]) == _counts_of(runs[0]) == _counts_of(first)


def test_a_store_purchase_on_the_virtual_day_is_an_order_of_the_card_holder(
    demo: tuple[Platform, dict[str, Any]], tmp_path: Path
) -> None:
    """The demo's day runs days ahead of the real clock: a till ticket two days on is
    stored (not refused as from the future) and belongs to the profile of its card."""
    from omnichannel.demo.journeys import MAX_FUTURE, recipients
    from omnichannel.demo.today_orders import Purchase, load_purchases
    from omnichannel.opstore.models import utcnow

    platform, _ = demo
    people = recipients(platform, platform.settings.truth_dir, CONFIG.days)
    holder = next(p for _, p in sorted(people.items()) if p.loyalty_record is not None)
    with platform.warehouse.reader() as wh:
        product = wh.table("products").select("product_id", "sku", "price").limit(1)
        item = product.to_pyarrow().to_pylist()[0]
    ticket = Purchase(utcnow() + timedelta(days=2), holder, item, store_id="ST-001")
    stored = load_purchases(platform, tmp_path, [ticket], max_future=MAX_FUTURE)
    assert stored == {"online": 0, "store": 1}
    with platform.warehouse.reader() as wh:
        rp = wh.table("record_profiles")
        records = [ticket.order_id, holder.loyalty_record]
        owners = rp.filter(rp.source == "pos", rp.record_id.isin(records))
        rows = owners.select("record_id", "profile_id").to_pyarrow().to_pylist()
        found = {r["record_id"]: r["profile_id"] for r in rows}
    # The ticket and the card are one person's (the till's ticket names the card).
    assert len(found) == 2 and len(set(found.values())) == 1
