"""A profile rebuild replaces its tables whole: a reader never sees them empty or half-filled.

The reader is a second connection that reads the tables each time the build reports
progress, including after each new table is written and before the swap, so the check
follows the build's order of work rather than timing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from omnichannel.identity import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import Warehouse
from tests.profiles.support import AS_OF, T0, add_events, add_identities, add_orders

TABLES = ("profiles", "profile_hours", "profile_timeline")


def _load(wh: Warehouse, users: list[str], first_order: int) -> None:
    add_identities(wh, users)
    add_orders(
        wh,
        [
            {"id": f"o{first_order + i}", "user": u, "day": i, "total": 10 + i, "channel": "web"}
            for i, u in enumerate(users)
        ],
    )


def _snapshot(reader: Warehouse) -> tuple[Any, ...]:
    """Row counts of the output tables and the build times ``profiles`` holds."""
    counts = []
    for name in TABLES:
        cursor = reader.con.raw_sql(f'SELECT count(*) FROM "{name}"')
        counts.append(cursor.fetchone()[0])
    cursor = reader.con.raw_sql("SELECT DISTINCT built_at FROM profiles")
    stamps = tuple(sorted(r[0] for r in cursor.fetchall()))
    return (*counts, stamps)


def test_readers_see_the_old_tables_or_the_new_ones_never_a_part(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh, Warehouse.open(warehouse_url) as reader:
        _load(wh, ["a", "b", "c"], 0)
        add_events(wh, [{"user": u, "at": T0 + timedelta(hours=h)} for h, u in enumerate("abc")])
        resolve(wh, full=True)
        build_profiles(wh, as_of=AS_OF)
        old = _snapshot(reader)
        assert old[:3] == (3, 3, 6)  # 3 profiles, 1 active hour each, 3 events + 3 orders

        _load(wh, ["d", "e"], 10)
        resolve(wh)
        seen: list[tuple[Any, ...]] = []

        def read_mid_build(stage: str, done: int, total: int) -> None:
            seen.append(_snapshot(reader))

        build_profiles(wh, as_of=AS_OF, progress=read_mid_build)
        new = _snapshot(reader)

    assert new[:3] == (5, 3, 8)
    assert len(new[3]) == 1 and new[3] != old[3]
    # Every read during the build saw the complete old tables (the swap is the last step).
    assert len(seen) >= len(TABLES) + 2
    assert set(seen[:-1]) == {old}
    assert seen[-1] == new
