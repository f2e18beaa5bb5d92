"""member_ids: a segment's SQL compiled once, its clock and the timeline's mark bound.

Over the five-person business (language_data) on DuckDB and PostgreSQL: the cached
query gives the members compile.members gives, at every clock, and a changed definition
or a rebuilt timeline never reuses a query that would now answer wrongly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.profiles.build import build_profiles
from omnichannel.segments.compile import members
from omnichannel.segments.definition import parse_definition
from omnichannel.segments.prepared import CACHE, member_ids
from omnichannel.segments.state import event_state
from omnichannel.warehouse import Warehouse
from tests.segments.language_data import (
    NOW,
    add_events,
    ago,
    build_business,
    consents,
    event,
    profile_of,
)
from tests.segments.test_compile import CASES, business

__all__ = ["business"]  # the per-engine business fixture of test_compile

TWICE_RECENTLY = "{event: {name: Order Completed, count: {exactly: 2}, within: {last_days: 30}}}"


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    CACHE.clear()
    yield
    CACHE.clear()


def users(wh: Warehouse, ids: pa.Table) -> list[str]:
    names = {p: u for u, p in profile_of(wh).items()}
    return sorted(names[p] for p in ids.column("profile_id").to_pylist())


def cached(wh: Warehouse, condition: str, **options: object) -> list[str]:
    definition = parse_definition(f"name: probe\ncondition: {condition}")
    return users(wh, member_ids(definition, wh, now=options.pop("now", NOW), **options))  # type: ignore[arg-type]


def rebuilt(wh: Warehouse, condition: str, **options: object) -> list[str]:
    """The same segment through compile.members: built and compiled on this call."""
    definition = parse_definition(f"name: probe\ncondition: {condition}")
    now = options.pop("now", NOW)
    return users(wh, members(definition, wh, now=now, **options).to_pyarrow())  # type: ignore[arg-type]


@pytest.mark.parametrize("event_source", ["timeline", "identifiers"])
def test_cached_queries_give_the_obvious_people_cold_and_warm(
    business: Warehouse, event_source: str
) -> None:
    first = {c: cached(business, c, event_source=event_source) for c, _ in CASES}
    assert first == {c: expected for c, expected in CASES}
    misses = CACHE.info()["misses"]
    again = {c: cached(business, c, event_source=event_source) for c, _ in CASES}
    assert again == first
    assert CACHE.info()["misses"] == misses  # the second round compiled nothing


@pytest.mark.parametrize(
    "condition",
    [
        "{event: {name: Order Completed, count: {at_least: 1}, within: {last_days: 30}}}",
        "{event: {name: Order Completed, within: {since: {days_ago: 15}}}}",
        "{event: {name: Order Completed, last_time: {before: {days_ago: 30}}}}",
        "{device: {os_name: {equals: iOS}, within: {last_days: 5}}}",
    ],
)
def test_the_clock_is_bound_on_each_call_not_written_into_the_query(
    business: Warehouse, condition: str
) -> None:
    clocks = [NOW, NOW + timedelta(days=8), NOW + timedelta(days=40)]
    found = [cached(business, condition, now=at) for at in clocks]
    assert found == [rebuilt(business, condition, now=at) for at in clocks]
    assert len({tuple(f) for f in found}) > 1  # the clock moved someone: the test can fail
    assert CACHE.info()["misses"] == 1  # one query for the three clocks


def test_a_changed_definition_is_compiled_afresh(business: Warehouse) -> None:
    """Same segment name, another condition: the query of the old one is not reused."""
    three = "{event: {name: Order Completed, count: {at_least: 3}, within: {last_days: 30}}}"
    one = "{event: {name: Order Completed, count: {at_least: 1}, within: {last_days: 30}}}"
    assert cached(business, three) == ["ann"]
    assert cached(business, one) == ["ann", "bob", "dan"]
    assert cached(business, three) == ["ann"]


def test_only_the_profiles_of_a_scope_are_evaluated(business: Warehouse) -> None:
    ids = profile_of(business)
    scope = pa.table({"profile_id": [ids["ann"], ids["cat"]]})
    condition = "{trait: {field: orders, gte: 1}}"
    assert cached(business, condition) == ["ann", "bob", "cat"]
    assert cached(business, condition, scope=scope) == ["ann", "cat"]
    assert cached(business, condition, scope=scope.slice(1)) == ["cat"]


def test_a_rebuilt_timeline_moves_the_mark_the_cached_query_reads_from(tmp_path: Path) -> None:
    """Bob's second order arrives after the build: the query reads it from the events. After
    the next build it is in the timeline; a query still reading the events from the old
    mark would count it twice (three orders: not "exactly 2")."""
    wh = Warehouse.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    build_business(wh)
    assert cached(wh, TWICE_RECENTLY) == []  # ann has 3, bob 1
    late = [event("bob", "Order Completed", ago(1), props={"total": 5})]
    add_events(wh, late, loaded_at=NOW + timedelta(minutes=1), first_id=1000)
    assert cached(wh, TWICE_RECENTLY) == ["bob"]
    before = event_state(wh).timeline_through
    build_profiles(wh, as_of=NOW + timedelta(minutes=2), consents=consents([]))
    after = event_state(wh).timeline_through
    assert before is not None and after is not None and after > before
    assert cached(wh, TWICE_RECENTLY) == ["bob"] == rebuilt(wh, TWICE_RECENTLY)
    assert CACHE.info() == {"hits": 2, "misses": 1, "entries": 1}  # the same query throughout
    wh.close()
