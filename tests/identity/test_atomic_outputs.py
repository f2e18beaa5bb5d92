"""Resolution replaces its tables whole: a reader never sees the identity graph half-written.

A second connection reads the output tables at every progress report of a resolution,
including after each table is written aside and before the swap.
"""

from __future__ import annotations

from typing import Any

from omnichannel.identity import resolve
from omnichannel.warehouse import Warehouse
from tests.identity.support import add_ids

TABLES = ("record_profiles", "profile_identifiers")


def _snapshot(reader: Warehouse) -> tuple[Any, ...]:
    counts = []
    for name in TABLES:
        counts.append(reader.con.raw_sql(f'SELECT count(*) FROM "{name}"').fetchone()[0])
    cursor = reader.con.raw_sql("SELECT count(DISTINCT profile_id) FROM record_profiles")
    return (*counts, cursor.fetchone()[0])


def test_full_and_incremental_runs_swap_their_tables_whole(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh, Warehouse.open(warehouse_url) as reader:
        add_ids(wh, [("crm", f"r{i}", "email", f"p{i}@x.cn", 0) for i in range(4)])
        resolve(wh, full=True)
        before = _snapshot(reader)
        assert before == (4, 4, 4)
        for full in (True, False):
            first = 10 if full else 20
            add_ids(wh, [("crm", f"r{first + i}", "email", f"q{first}@x.cn", 1) for i in range(2)])
            seen: list[tuple[Any, ...]] = []

            def read(*_: object, seen: list[tuple[Any, ...]] = seen) -> None:
                seen.append(_snapshot(reader))

            resolve(wh, full=full, progress=read)
            after = _snapshot(reader)
            assert after == (before[0] + 2, before[1] + 1, before[2] + 1)
            assert set(seen) == {before, after}, seen
            # Reads after each of the four tables was written aside still saw the old graph.
            assert seen.index(after) >= 4 and seen[-1] == after
            before = after
