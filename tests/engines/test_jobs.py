"""The batch jobs on every engine, Spark included, against DuckDB's answers.

One small business (``tests/analytics/funnel_world.py``: four people, their events and
orders, two sources joined by identity) per engine: identity resolution, the profile
build, a segment, a funnel and the attribution paths run on it, and each engine's
answers must equal the ones DuckDB gives for the same data (the funnel's also equal
the counts read off by eye). The tests run in order on the module's warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from omnichannel.analytics.attribution.touches import Window, person_paths
from omnichannel.analytics.funnels.definition import parse_funnel
from omnichannel.analytics.funnels.service import build, report
from omnichannel.identity.rules import load_rules
from omnichannel.profiles.build import build_profiles
from omnichannel.segments.compile import members
from omnichannel.segments.definition import parse_definition
from omnichannel.warehouse import Warehouse
from tests.analytics.funnel_world import STEPS, build_funnel_world, profile_of
from tests.profiles.support import T0, profiles_by_user

pytestmark = pytest.mark.slow(seconds=150)

AS_OF = T0 + timedelta(days=30)
# Who the segment should hold: anyone who added a product at least once.
ADDERS = parse_definition(
    {"name": "adders", "condition": {"event": {"name": "Product Added", "count": {"at_least": 1}}}}
)
# Columns that say when or by which run, not what: they differ between any two builds.
RUN_COLUMNS = {"profile_id", "built_at", "updated_at"}


def answers(wh: Warehouse, step: str) -> Any:
    """What a user reads from ``step`` (run on ``wh`` already built by the steps before)."""
    if step == "identity":
        rp = wh.table("record_profiles").to_pyarrow().to_pylist()
        by_profile: dict[str, set[tuple[str, str]]] = {}
        for r in rp:
            by_profile.setdefault(r["profile_id"], set()).add((r["source"], r["record_id"]))
        return sorted(sorted(records) for records in by_profile.values())
    if step == "profiles":
        rows = profiles_by_user(wh)
        return {
            user: {k: _plain(v) for k, v in row.items() if k not in RUN_COLUMNS}
            for user, row in rows.items()
        }
    if step == "segment":
        ids = members(ADDERS, wh, now=AS_OF).to_pyarrow().column("profile_id").to_pylist()
        users = {p: u for u, p in profile_of(wh).items()}
        return sorted(users[p] for p in ids)
    if step == "funnel":
        query = build(wh, load_rules(), parse_funnel({"steps": STEPS}, by=["channel"]))
        result = report(query, query.summary().to_pyarrow().to_pylist())
        return [s["entered"] for s in result["overall"]["steps"]], result
    if step == "attribution":
        paths, untouched = person_paths(wh, load_rules(), Window(lookback_days=10))
        named = sorted(
            (
                tuple(
                    paths.channels[c]
                    for c in paths.touches[paths.offsets[i] : paths.offsets[i + 1]]
                ),
                float(paths.conversions[i]),
                float(paths.value[i]),
            )
            for i in range(paths.n_paths)
        )
        return named, untouched
    raise AssertionError(step)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _built(wh: Warehouse) -> None:
    build_funnel_world(wh)  # ends with identity resolution (resolve(wh, full=True))
    build_profiles(wh, as_of=AS_OF)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """DuckDB's answers for the same business."""
    path = tmp_path_factory.mktemp("reference") / "omni.duckdb"
    with Warehouse.open(f"duckdb:///{path}") as wh:
        _built(wh)
        return {step: answers(wh, step) for step in STEPS_RUN}


STEPS_RUN = ["identity", "profiles", "segment", "funnel", "attribution"]


@pytest.fixture(scope="module")
def wh(engine_url: str) -> Iterator[Warehouse]:
    with Warehouse.open(engine_url) as opened:
        _built(opened)
        yield opened


def test_identity_resolution_joins_the_same_records(
    wh: Warehouse, reference: dict[str, Any]
) -> None:
    assert answers(wh, "identity") == reference["identity"]
    assert set(profile_of(wh)) == {"ann", "bob", "cat", "dan"}


def test_the_profile_build_gives_the_same_traits(wh: Warehouse, reference: dict[str, Any]) -> None:
    built = answers(wh, "profiles")
    assert set(built) == {"ann", "bob", "cat", "dan"}
    assert (built["ann"]["orders"], built["ann"]["orders_offline"]) == (1, 1)
    assert built == reference["profiles"]


def test_a_segment_holds_the_same_members(wh: Warehouse, reference: dict[str, Any]) -> None:
    assert answers(wh, "segment") == ["ann", "bob", "cat", "dan"] == reference["segment"]


def test_a_funnel_counts_the_same_people(wh: Warehouse, reference: dict[str, Any]) -> None:
    entered, result = answers(wh, "funnel")
    assert entered == [4, 2, 1]
    assert result == reference["funnel"][1]


def test_attribution_finds_the_same_paths(wh: Warehouse, reference: dict[str, Any]) -> None:
    assert answers(wh, "attribution") == reference["attribution"]
