"""Small builders for identity tests: identifier rows and Segment events in a warehouse."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from omnichannel.warehouse import Warehouse

T0 = datetime(2026, 1, 1)


def add_ids(wh: Warehouse, rows: list[tuple[str, str, str, str, int]]) -> None:
    """``(source, record_id, id_type, id_value, day)`` identifier observations."""
    wh.append(
        "identifiers",
        pa.table(
            {
                "source": [r[0] for r in rows],
                "record_id": [r[1] for r in rows],
                "id_type": [r[2] for r in rows],
                "id_value": [r[3] for r in rows],
                "observed_at": [T0 + timedelta(days=r[4]) for r in rows],
            }
        ),
    )


def add_events(wh: Warehouse, events: list[dict[str, object]]) -> None:
    """Segment calls with ``message_id``, ``type``, ids and ``traits`` JSON text."""
    columns = ("message_id", "type", "user_id", "anonymous_id", "previous_id", "traits")
    wh.append(
        "events",
        pa.table(
            {
                **{c: pa.array([e.get(c) for e in events], pa.string()) for c in columns},
                "source": ["web"] * len(events),
                "timestamp": [T0 + timedelta(days=int(str(e.get("day", 0)))) for e in events],
            }
        ),
    )


def partition(wh: Warehouse) -> set[frozenset[str]]:
    """The records of each profile, as a set of sets of ``source/record_id``."""
    rows = wh.table("record_profiles").to_pyarrow().to_pylist()
    groups: dict[str, set[str]] = {}
    for r in rows:
        groups.setdefault(r["profile_id"], set()).add(f"{r['source']}/{r['record_id']}")
    return {frozenset(g) for g in groups.values()}


def profile_of(wh: Warehouse, source: str, record_id: str) -> str:
    rp = wh.table("record_profiles")
    found = rp.filter(rp.source == source, rp.record_id == record_id).profile_id
    values = found.to_pyarrow().to_pylist()
    assert len(values) == 1, f"{source}/{record_id} has {values}"
    return str(values[0])


def together(wh: Warehouse, a: tuple[str, str], b: tuple[str, str]) -> bool:
    return profile_of(wh, *a) == profile_of(wh, *b)
