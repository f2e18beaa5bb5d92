"""Batch refresh: incremental runs give the full result; clock windows expire; the job."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from omnichannel.config import Settings
from omnichannel.identity.rules import load_rules
from omnichannel.installation import initialise
from omnichannel.opstore import OpStore
from omnichannel.platform import Platform
from omnichannel.segments.compile import members
from omnichannel.segments.membership import EXITED_EVENT, history
from omnichannel.segments.refresh import refresh_all
from omnichannel.segments.store import SegmentStore
from omnichannel.warehouse.access import WarehouseAccess
from tests.segments.membership_world import (
    BUYERS,
    NOW,
    RECENT_BUYERS,
    build_people,
    current_set,
    definition,
    record_build,
    store_events,
)

LIGHT = {"event": {"name": "Order Completed", "count": {"at_most": 1}}}
BROWSING_BUYERS = {
    "all": [
        {"segment": "buyers"},
        {"event": {"name": "Product Viewed", "count": {"at_least": 1}}},
    ]
}


def _evaluated_in_full(access: WarehouseAccess, store: SegmentStore, segment: str) -> set[str]:
    found = store.get(segment)
    assert found is not None
    with access.reader() as wh:
        expr = members(found.definition, wh, now=NOW)
        return set(expr.to_pyarrow().column("profile_id").to_pylist())


def test_an_incremental_refresh_evaluates_only_new_events_people_and_equals_a_full_one(
    access: WarehouseAccess, opstore: OpStore
) -> None:
    rules = load_rules()
    with access.writer() as wh:
        person = build_people(wh)
        store_events(
            wh,
            [
                {"user": "ann", "event": "Order Completed"},
                {"user": "ann", "event": "Order Completed"},
                {"user": "bob", "event": "Order Completed"},
                {"user": "ann", "event": "Product Viewed"},
                {"user": "cy", "event": "Product Viewed"},
            ],
        )
    store = SegmentStore(opstore)
    # Created out of dependency order on purpose: the refresh puts buyers first.
    store.create(definition("light", LIGHT), created_by="t")
    store.create(definition("buyers", BUYERS), created_by="t")
    store.create(definition("browsing-buyers", BROWSING_BUYERS), created_by="t")
    first = refresh_all(access, store, rules, now=NOW)
    assert [(r.segment, r.mode) for r in first] == [
        ("buyers", "full"),
        ("browsing-buyers", "full"),
        ("light", "full"),
    ]
    assert current_set(access, "buyers") == {person["ann"]}
    assert current_set(access, "browsing-buyers") == {person["ann"]}
    assert current_set(access, "light") == {person[u] for u in ("bob", "cy", "dee", "eve")}

    with access.writer() as wh:
        store_events(
            wh,
            [
                {"user": "cy", "event": "Order Completed"},
                {"user": "cy", "event": "Order Completed"},
                {"user": "bob", "event": "Order Completed"},
            ],
        )
    second = {r.segment: r for r in refresh_all(access, store, rules, now=NOW)}
    assert {name: r.mode for name, r in second.items()} == dict.fromkeys(second, "incremental")
    # Only bob and cy had new orders; browsing-buyers follows buyers' entries (bob, cy).
    assert {name: r.evaluated for name, r in second.items()} == dict.fromkeys(second, 2)
    assert (second["buyers"].entered, second["light"].exited) == (2, 2)
    assert second["browsing-buyers"].entered == 1  # cy viewed a product, bob did not
    for name in ("buyers", "browsing-buyers", "light"):
        assert current_set(access, name) == _evaluated_in_full(access, store, name), name
    with access.reader() as wh:
        bob = history(wh, "light", person["bob"]).to_pyarrow().to_pylist()
    assert len(bob) == 1 and bob[0]["exited_at"] is not None

    third = refresh_all(access, store, rules, now=NOW)  # nothing new: nobody evaluated
    assert [(r.mode, r.evaluated, r.entered, r.exited) for r in third] == [
        ("incremental", 0, 0, 0)
    ] * 3


def test_a_clock_window_expires_on_a_later_run_with_no_new_event(
    access: WarehouseAccess, opstore: OpStore
) -> None:
    rules = load_rules()
    with access.writer() as wh:
        person = build_people(wh)
        store_events(
            wh, [{"user": "ann", "event": "Order Completed", "at": NOW - timedelta(days=1)}]
        )
    store = SegmentStore(opstore)
    store.create(definition("recent-buyers", RECENT_BUYERS), created_by="t")
    refresh_all(access, store, rules, now=NOW)
    assert current_set(access, "recent-buyers") == {person["ann"]}
    later = refresh_all(access, store, rules, now=NOW + timedelta(days=40))
    assert [(r.mode, r.exited) for r in later] == [("full", 1)]
    assert current_set(access, "recent-buyers") == set()
    with access.reader() as wh:
        e = wh.table("events")
        exits = e.filter(e.event == EXITED_EVENT).count().to_pyarrow().as_py()
    assert exits == 1


def test_a_profile_build_or_a_new_version_makes_the_next_run_full(
    access: WarehouseAccess, opstore: OpStore
) -> None:
    rules = load_rules()
    with access.writer() as wh:
        build_people(wh)
    store = SegmentStore(opstore)
    store.create(definition("buyers", BUYERS), created_by="t")
    refresh_all(access, store, rules, now=NOW)
    store.update("buyers", definition("buyers", LIGHT))
    assert [r.mode for r in refresh_all(access, store, rules, now=NOW)] == ["full"]
    assert [r.mode for r in refresh_all(access, store, rules, now=NOW)] == ["incremental"]
    with access.writer() as wh:
        record_build(wh, NOW + timedelta(hours=1))
    assert [r.mode for r in refresh_all(access, store, rules, now=NOW)] == ["full"]


def test_the_segments_job_refreshes_every_stored_segment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    initialise(Settings(home=home))
    with Platform.open(home) as platform:
        with platform.warehouse.writer() as wh:
            person = build_people(wh)
            store_events(wh, [{"user": "eve", "event": "Order Completed"}] * 2)
        SegmentStore(platform.opstore).create(definition("buyers", BUYERS), created_by="t")
        assert "segments" in {job.name for job in platform.job_registry}
        run = platform.jobs.run("segments")
        assert run.status == "succeeded", run.error
        assert run.rows == 1
        assert [s["segment"] for s in run.detail["segments"]] == ["buyers"]
        assert current_set(platform.warehouse, "buyers") == {person["eve"]}
