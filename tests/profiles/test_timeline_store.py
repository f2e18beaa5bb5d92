"""The stored timeline answers like the raw tables, and stays fresh after the build.

``profile_timeline`` is what the Profile API reads; these tests hold it to the raw-table
reading (``stored=None``) on each engine, and check what arrives after a build (events
loaded, a merge by ``omni identity resolve``) still shows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa

from omnichannel.identity import resolve
from omnichannel.identity.rules import load_rules
from omnichannel.profiles.build import build_profiles
from omnichannel.profiles.timeline import conversion_paths, timeline
from omnichannel.profiles.timeline_sql import untouched_since_build
from omnichannel.profiles.timeline_store import current_coverage
from omnichannel.warehouse import Warehouse
from tests.profiles.support import AS_OF, T0, add_orders

RULES = load_rules()


def _records(wh: Warehouse, rows: list[tuple[str, str, str]]) -> None:
    """CRM records ``(record_id, id_type, id_value)``."""
    wh.append(
        "identifiers",
        pa.table(
            {
                "source": ["crm"] * len(rows),
                "record_id": [r[0] for r in rows],
                "id_type": [r[1] for r in rows],
                "id_value": [r[2] for r in rows],
                "observed_at": [T0] * len(rows),
            }
        ),
    )


def _events(wh: Warehouse, events: list[dict[str, Any]], first: int = 0) -> None:
    wh.append(
        "events",
        pa.table(
            {
                "message_id": [f"m{first + i}" for i in range(len(events))],
                "type": ["track"] * len(events),
                "event": [e.get("event", "Page Viewed") for e in events],
                "user_id": [e.get("user") for e in events],
                "anonymous_id": [e.get("anon") for e in events],
                "timestamp": [T0 + timedelta(days=e["day"]) for e in events],
                "source": ["web"] * len(events),
                "channel": ["web"] * len(events),
                "context_campaign_name": [e.get("campaign") for e in events],
                "loaded_at": [e.get("loaded", T0) for e in events],
            }
        ),
    )


def _business(wh: Warehouse) -> dict[str, str]:
    """Ann (user a, cookie ca) and Bob (user b); returns profile ids by user."""
    _records(wh, [("c-a", "user_id", "a"), ("c-a", "anonymous_id", "ca"), ("c-b", "user_id", "b")])
    _events(
        wh,
        [
            {"user": "a", "day": 1, "campaign": "Spring"},
            {"anon": "ca", "day": 2, "event": "Content Viewed"},
            # Ann's cookie, but Bob's user id: Bob's event (the user id wins).
            {"user": "b", "anon": "ca", "day": 3},
            {"user": "a", "day": 4},
            {"user": "a", "day": 4},  # two events at one time: the cursor's tie-break
            {"user": "b", "day": 5, "campaign": "Spring"},
        ],
    )
    add_orders(
        wh,
        [
            {"id": "o1", "user": "a", "day": 6, "total": 10, "channel": "web"},
            {"id": "o2", "user": "b", "day": 7, "total": 20, "channel": "web"},
            {
                "id": "o3",
                "user": "a",
                "day": 9,
                "total": 5,
                "channel": "web",
                "status": "cancelled",
            },
        ],
    )
    resolve(wh, full=True)
    build_profiles(wh, as_of=AS_OF)
    pi = wh.table("profile_identifiers")
    rows = pi.filter(pi.id_type == "user_id").to_pyarrow().to_pylist()
    return {r["id_value"]: r["profile_id"] for r in rows}


def _all_pages(wh: Warehouse, profile_id: str, stored: Any) -> list[tuple[str, str]]:
    items, cursor = [], None
    while True:
        page = timeline(wh, profile_id, rules=RULES, limit=2, cursor=cursor, stored=stored)
        items += [(i["kind"], i["id"]) for i in page.items]
        if page.next is None:
            return items
        cursor = page.next


def test_stored_timeline_pages_and_paths_equal_the_raw_tables(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        profiles = _business(wh)
        coverage = current_coverage(wh)
        assert coverage is not None
        for profile_id in profiles.values():
            stored = _all_pages(wh, profile_id, coverage)
            assert stored == _all_pages(wh, profile_id, None)
            assert conversion_paths(wh, profile_id, rules=RULES, stored=coverage) == (
                conversion_paths(wh, profile_id, rules=RULES, stored=None)
            )
        ann = _all_pages(wh, profiles["a"], coverage)
        assert ann == [
            ("order", "o3"),
            ("order", "o1"),
            ("event", "m4"),
            ("event", "m3"),
            ("event", "m1"),
            ("event", "m0"),
        ]
        path = conversion_paths(wh, profiles["a"], rules=RULES, stored=coverage)
        assert [p["order_id"] for p in path] == ["o1"]  # the cancelled order is no purchase
        assert [t["kind"] for t in path[0]["touchpoints"]] == ["visit", "content_view"]


def test_events_loaded_after_the_build_show_once(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        profiles = _business(wh)
        later = T0 + timedelta(days=60)
        _events(
            wh,
            [
                {"user": "a", "day": 20, "loaded": later},
                {"anon": "ca", "day": 5, "loaded": later, "campaign": "Summer"},
                {"user": "b", "anon": "ca", "day": 22, "loaded": later},
            ],
            first=100,
        )
        coverage = current_coverage(wh)
        assert coverage is not None  # no resolve since: the stored timeline still answers
        ann = _all_pages(wh, profiles["a"], coverage)
        assert ann[0] == ("event", "m100")
        assert ann[3] == ("event", "m101")  # after o3 (day 9) and o1 (day 6)
        assert len(ann) == len(set(ann)) == 8
        assert ann == _all_pages(wh, profiles["a"], None)
        assert _all_pages(wh, profiles["b"], coverage)[0] == ("event", "m102")
        path = conversion_paths(wh, profiles["a"], rules=RULES, stored=coverage)
        assert [t["campaign"] for t in path[0]["touchpoints"]] == ["Spring", None, "Summer"]
        assert path == conversion_paths(wh, profiles["a"], rules=RULES, stored=None)


def test_after_a_merge_the_timeline_reads_the_raw_tables_until_the_next_build(
    warehouse_url: str,
) -> None:
    with Warehouse.open(warehouse_url) as wh:
        # A visitor known by a cookie only: a profile of her own, with one event.
        _records(wh, [("c-z", "anonymous_id", "cz")])
        _events(wh, [{"anon": "cz", "day": 8}], first=50)
        profiles = _business(wh)
        ann = profiles["a"]
        assert ("event", "m50") not in _all_pages(wh, ann, current_coverage(wh))
        # A new record shows the cookie is Ann's: the visitor's profile merges into hers.
        _records(wh, [("c-link", "user_id", "a"), ("c-link", "anonymous_id", "cz")])
        resolve(wh)
        coverage = current_coverage(wh)
        assert coverage is not None and not coverage.identity_current
        # Only the merged profile's records were re-resolved: Bob's stored rows still hold.
        assert not untouched_since_build(wh, ann, coverage)
        assert untouched_since_build(wh, profiles["b"], coverage)
        assert _all_pages(wh, profiles["b"], coverage) == _all_pages(wh, profiles["b"], None)
        merged = timeline(wh, ann, rules=RULES, limit=100)
        assert ("event", "m50") in [(i["kind"], i["id"]) for i in merged.items]
        build_profiles(wh, as_of=AS_OF)
        coverage = current_coverage(wh)
        assert coverage is not None and coverage.identity_current
        assert ("event", "m50") in _all_pages(wh, ann, coverage)


def test_a_warehouse_built_without_the_timeline_rebuilds_once(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        _business(wh)
        assert build_profiles(wh, as_of=AS_OF).status == "unchanged"
        wh.con.drop_table("profile_timeline")  # as an earlier version left it
        assert current_coverage(wh) is None
        assert build_profiles(wh, as_of=AS_OF).status == "built"
        assert current_coverage(wh) is not None
        assert build_profiles(wh, as_of=AS_OF).status == "unchanged"
