"""The compiled SQL of a few definitions, snapshotted (PostHog style) for DuckDB and PostgreSQL.

A change to the compiler shows up here as a diff of the SQL it sends; when the change is
meant, refresh the files with ``OMNI_UPDATE_SNAPSHOTS=1 pytest tests/segments/test_compile_sql.py``
and read the diff before committing it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import ibis
import pytest

from omnichannel.segments.compile import members, sql
from omnichannel.segments.definition import parse_definition
from omnichannel.warehouse import Warehouse
from tests.segments.language_data import NOW

SNAPSHOTS = Path(__file__).parent / "snapshots"
DEFINITIONS = {
    "trait_and_count": """
name: recent-loyal
condition:
  all:
    - trait: {field: rfm_segment, in: [champions, loyal customers]}
    - event: {name: Order Completed, count: {at_least: 2}, within: {last_days: 30}}
""",
    "device_not_consent": """
name: ios-no-push
condition:
  all:
    - device: {os_name: {equals: iOS}, push_token: true}
    - not: {consent: {channel: push, status: granted}}
""",
    "lapsed_or_keyword": """
name: lapsed-or-vip
condition:
  any:
    - event: {name: Order Completed, count: {exactly: 0}, within: {since: {days_ago: 90}}}
    - message: {channel: wechat, keyword: VIP}
""",
}


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    # An empty warehouse: no profile build yet, so events are mapped through the identifiers.
    with Warehouse.open(f"duckdb:///{tmp_path_factory.mktemp('sql') / 'w.duckdb'}") as opened:
        yield opened


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_compiled_sql_matches_its_snapshot(wh: Warehouse, name: str, dialect: str) -> None:
    definition = parse_definition(DEFINITIONS[name])
    expr = members(definition, wh, now=NOW)
    text = str(ibis.to_sql(expr, dialect=dialect)).strip() + "\n"
    if dialect == "duckdb":
        assert text == sql(definition, wh, NOW).strip() + "\n"
    path = SNAPSHOTS / f"{name}.{dialect}.sql"
    if os.environ.get("OMNI_UPDATE_SNAPSHOTS") or not path.exists():
        path.write_bytes(text.encode())
    # Bytes: the SQL holds a carriage return (TRIM's whitespace list) that text mode changes.
    assert text == path.read_bytes().decode(), f"compiled SQL changed: see {path}"


def test_a_snapshot_runs_on_its_engine(wh: Warehouse) -> None:
    text = (SNAPSHOTS / "trait_and_count.duckdb.sql").read_bytes().decode()
    assert wh.con.sql(text).to_pyarrow().num_rows == 0  # an empty warehouse has no members
