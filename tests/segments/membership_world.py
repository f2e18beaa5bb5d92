"""People with profiles and a stream of events, for membership, refresh and real-time tests.

People are written as identity resolution and a profile build leave them (the segment
code reads those tables, not how they were made); events are numbered (``load_seq``)
after the stored ones, as the loader numbers collected events.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from omnichannel.segments.definition import SegmentDefinition, parse_definition
from omnichannel.segments.membership import current_members
from omnichannel.segments.store import StoredSegment
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.access import WarehouseAccess
from omnichannel.warehouse.store import conform
from omnichannel.warehouse.tables import EVENTS
from tests.profiles.support import T0

USERS = ["ann", "bob", "cy", "dee", "eve"]
NOW = T0 + timedelta(days=60)
_ids = itertools.count(1)


def build_people(wh: Warehouse, users: list[str] = USERS) -> dict[str, str]:
    """One profile per user, as identity resolution and a build leave them: a linked
    ``user_id`` in ``profile_identifiers``, a row in ``profiles`` and a recorded build.
    Returns user -> profile_id."""
    ids = {user: f"p-{user}" for user in users}
    n = len(users)
    wh.append(
        "profile_identifiers",
        pa.table(
            {
                "profile_id": list(ids.values()),
                "id_type": ["user_id"] * n,
                "id_value": users,
                "status": ["linked"] * n,
                "records": pa.array([1] * n, pa.int64()),
                "first_seen": pa.array([T0] * n, pa.timestamp("us")),
                "last_seen": pa.array([T0] * n, pa.timestamp("us")),
            }
        ),
    )
    wh.append("profiles", pa.table({"profile_id": list(ids.values())}))
    record_build(wh, NOW)
    return ids


def record_build(wh: Warehouse, at: datetime) -> None:
    """A profile build at ``at``, as ``profile_builds`` records one."""
    wh.append(
        "profile_builds",
        pa.table({"built_at": pa.array([at], pa.timestamp("us")), "status": ["built"]}),
    )


def store_events(wh: Warehouse, events: list[dict[str, Any]]) -> pa.Table:
    """Track events ``{user, event[, at, props]}`` with the next ``load_seq`` numbers."""
    at = [e.get("at", NOW - timedelta(days=1)) for e in events]
    rows = pa.table(
        {
            "message_id": [f"w{next(_ids)}-{e['user']}" for e in events],
            "type": ["track"] * len(events),
            "event": [e["event"] for e in events],
            "user_id": [e["user"] for e in events],
            "timestamp": pa.array(at, pa.timestamp("us")),
            "source": ["web"] * len(events),
            "channel": ["web"] * len(events),
            "properties": [e.get("props", "{}") for e in events],
            "loaded_at": pa.array([datetime.now()] * len(events), pa.timestamp("us")),
        }
    )
    last = int(wh.table(EVENTS.name).load_seq.max().to_pyarrow().as_py() or 0)
    numbered = rows.append_column(
        "load_seq", pa.array(range(last + 1, last + 1 + rows.num_rows), pa.int64())
    )
    wh.append(EVENTS.name, numbered)
    return conform(EVENTS, numbered)


def definition(name: str, condition: dict[str, Any]) -> SegmentDefinition:
    return parse_definition({"name": name, "condition": condition})


def stored(defn: SegmentDefinition, version: int = 1) -> StoredSegment:
    """A definition as the store returns it (for refresh calls that need no opstore)."""
    return StoredSegment(
        id=0,
        name=defn.name,
        description=defn.description,
        version=version,
        definition=defn,
        created_by="test",
        created_at=NOW,
        updated_at=NOW,
    )


BUYERS = {"event": {"name": "Order Completed", "count": {"at_least": 2}}}
RECENT_BUYERS = {
    "event": {"name": "Order Completed", "count": {"at_least": 1}, "within": {"last_days": 30}}
}


def current_set(access: WarehouseAccess, segment: str) -> set[str]:
    """The profile ids in ``segment`` now."""
    with access.reader() as wh:
        return set(current_members(wh, segment).to_pyarrow().column("profile_id").to_pylist())
