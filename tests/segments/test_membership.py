"""Membership history: entries and exits as rows with entered_at / exited_at, and as events."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import ibis
import pyarrow as pa

from omnichannel.segments.membership import (
    ENTERED_EVENT,
    EXITED_EVENT,
    apply,
    current_members,
    forget,
    history,
    last_refresh,
)
from omnichannel.warehouse.access import WarehouseAccess

T0 = datetime(2026, 5, 1, 9, 0)


def _ids(*profiles: str) -> pa.Table:
    return pa.table({"profile_id": pa.array(list(profiles), pa.string())})


def _members(access: WarehouseAccess, segment: str) -> list[str]:
    with access.reader() as wh:
        return sorted(current_members(wh, segment).to_pyarrow().column("profile_id").to_pylist())


def _segment_events(access: WarehouseAccess) -> list[dict[str, object]]:
    with access.reader() as wh:
        e = wh.table("events")
        rows = (
            e.filter(e.event.isin([ENTERED_EVENT, EXITED_EVENT]))
            .order_by(e.load_seq)
            .select("message_id", "event", "load_seq", "properties", "user_id", "anonymous_id")
            .to_pyarrow()
            .to_pylist()
        )
    for row in rows:
        row["properties"] = json.loads(str(row["properties"]))
    return rows


def test_entries_and_exits_become_history_rows_and_events_after_the_stored_ones(
    access: WarehouseAccess,
) -> None:
    with access.writer() as wh:
        wh.append(
            "events",
            pa.table({"message_id": ["m1", "m2"], "type": ["track"] * 2, "load_seq": [1, 2]}),
        )
        first = apply(wh, "vip", _ids("p1", "p2"), now=T0, version=1)
        second = apply(wh, "vip", _ids("p2", "p3"), now=T0 + timedelta(hours=1), version=2)
        third = apply(wh, "vip", _ids("p1", "p2"), now=T0 + timedelta(hours=2), version=2)
    assert (first.members, first.entered.num_rows, first.exited.num_rows) == (2, 2, 0)
    assert (second.members, second.entered.num_rows, second.exited.num_rows) == (2, 1, 1)
    assert _members(access, "vip") == ["p1", "p2"]
    with access.reader() as wh:
        stays = history(wh, "vip").to_pyarrow().to_pylist()
    by_person = {
        p: [(r["entered_at"], r["exited_at"], r["version"]) for r in stays if r["profile_id"] == p]
        for p in ("p1", "p2", "p3")
    }
    # p1 left and came back: two stays, the first closed when the second run dropped it.
    assert by_person["p1"] == [
        (T0, T0 + timedelta(hours=1), 1),
        (T0 + timedelta(hours=2), None, 2),
    ]
    assert by_person["p2"] == [(T0, None, 1)]  # never left: one open stay
    assert by_person["p3"] == [(T0 + timedelta(hours=1), T0 + timedelta(hours=2), 2)]
    events = _segment_events(access)
    assert [(e["event"], e["properties"]["profile_id"]) for e in events] == [
        (ENTERED_EVENT, "p1"),
        (ENTERED_EVENT, "p2"),
        (ENTERED_EVENT, "p3"),
        (EXITED_EVENT, "p1"),
        (ENTERED_EVENT, "p1"),
        (EXITED_EVENT, "p3"),
    ]
    # Numbered after the two events stored before, so a consumer reads them in order.
    assert [e["load_seq"] for e in events] == [3, 4, 5, 6, 7, 8]
    assert events[3]["properties"] == {
        "segment": "vip",
        "version": 2,
        "profile_id": "p1",
        "entered_at": T0.isoformat(),
        "exited_at": (T0 + timedelta(hours=1)).isoformat(),
    }
    assert len({e["message_id"] for e in events}) == 6
    # The person is named in properties only: no identifier for identity to pick up.
    assert all(e["user_id"] is None and e["anonymous_id"] is None for e in events)
    assert third.events == 2


def test_a_scoped_run_only_closes_rows_of_the_profiles_it_evaluated(
    access: WarehouseAccess,
) -> None:
    with access.writer() as wh:
        apply(wh, "lapsing", _ids("p1", "p2", "p3"), now=T0, version=1)
        # Only p2 and p4 were evaluated: p2 no longer qualifies, p4 now does; p1 and p3
        # are outside the scope and stay members.
        change = apply(
            wh,
            "lapsing",
            ibis.memtable(_ids("p4")),
            scope=_ids("p2", "p4"),
            now=T0 + timedelta(minutes=1),
            version=1,
            mode="incremental",
        )
    assert change.exited.column("profile_id").to_pylist() == ["p2"]
    assert change.entered.column("profile_id").to_pylist() == ["p4"]
    assert _members(access, "lapsing") == ["p1", "p3", "p4"]
    with access.reader() as wh:
        last = last_refresh(wh, "lapsing")
    assert last is not None
    assert (last["mode"], last["members"], last["entered"], last["exited"]) == (
        "incremental",
        3,
        1,
        1,
    )


def test_segments_are_kept_apart_and_forget_drops_only_its_own(access: WarehouseAccess) -> None:
    with access.writer() as wh:
        apply(wh, "a", _ids("p1"), now=T0, version=1)
        apply(wh, "b", _ids("p1", "p2"), now=T0, version=1)
        apply(wh, "a", _ids(), now=T0 + timedelta(minutes=5), version=1)
        forget(wh, "b")
    assert _members(access, "a") == []
    assert _members(access, "b") == []
    with access.reader() as wh:
        assert history(wh, "a").count().to_pyarrow().as_py() == 1
        assert last_refresh(wh, "b") is None
        assert last_refresh(wh, "a") is not None


def test_an_unchanged_member_set_publishes_nothing(access: WarehouseAccess) -> None:
    with access.writer() as wh:
        apply(wh, "vip", _ids("p1"), now=T0, version=1)
        again = apply(wh, "vip", _ids("p1"), now=T0 + timedelta(minutes=1), version=1)
    assert (again.entered.num_rows, again.exited.num_rows, again.events) == (0, 0, 0)
    assert len(_segment_events(access)) == 1


def test_an_older_evaluation_applied_late_leaves_a_newer_change_alone(
    access: WarehouseAccess,
) -> None:
    """A batch refresh reads at T0 and applies after the real-time updater, which read at
    T1 > T0, let p2 in and p1 out: the refresh keeps its hands off both."""
    t0, t1 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    with access.writer() as wh:
        apply(wh, "vip", _ids("p1"), now=T0, version=1, snapshot_at=T0)
        apply(wh, "vip", _ids("p2"), scope=_ids("p1", "p2"), now=t1, version=1, snapshot_at=t1)
        # What the batch run found at t0: p1 and p3 in, p2 not yet.
        late = apply(wh, "vip", _ids("p1", "p3"), now=t0, version=1, snapshot_at=t0)
    assert late.entered.column("profile_id").to_pylist() == ["p3"]
    assert late.exited.num_rows == 0
    assert _members(access, "vip") == ["p2", "p3"]
    with access.writer() as wh:
        # A newer evaluation than every change does apply in full.
        newest = apply(wh, "vip", _ids("p1"), now=t1, version=1, snapshot_at=t1 + timedelta(1))
    assert sorted(newest.exited.column("profile_id").to_pylist()) == ["p2", "p3"]
    assert _members(access, "vip") == ["p1"]
