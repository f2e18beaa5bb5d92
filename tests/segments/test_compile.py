"""compile.members on DuckDB and PostgreSQL over the five-person business (language_data)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from omnichannel.errors import ValidationError
from omnichannel.segments.compile import check_references, members, sources, sql
from omnichannel.segments.definition import SegmentDefinition, parse_definition
from omnichannel.warehouse import Warehouse
from tests.segments.language_data import NOW, add_events, ago, build_business, event, profile_of
from tests.support.postgres import create_database


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def business(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    """The business, built once per engine (the build takes seconds)."""
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp('seg') / 'omni.duckdb'}"
    else:
        server = request.getfixturevalue("postgres_server_url")
        url = create_database(server, f"omni_{uuid.uuid4().hex[:12]}").replace(
            "postgresql://", "postgres://", 1
        )
    wh = Warehouse.open(url)
    build_business(wh)
    yield wh
    wh.close()


def who(wh: Warehouse, condition: str, **options: Any) -> list[str]:
    """The user ids of the members of a one-condition segment (YAML flow text)."""
    definition = parse_definition(f"name: probe\ncondition: {condition}")
    names = {p: u for u, p in profile_of(wh).items()}
    ids = members(definition, wh, now=NOW, **options).to_pyarrow().column("profile_id")
    return sorted(names[p] for p in ids.to_pylist())


CASES = [
    # trait, tag, consent, affinity
    ("{trait: {field: orders, gte: 2}}", ["ann"]),
    ("{trait: {field: rfm_segment, equals: prospect}}", ["dan", "eve"]),
    ("{trait: {field: channels, contains: store}}", ["ann"]),
    ("{trait: {field: revenue, decile: [10]}}", ["ann"]),
    ("{trait: {field: revenue, top_percent: 50}}", ["ann", "bob"]),
    ("{trait: {field: device_type, exists: false}}", ["cat", "eve"]),
    ("{consent: {channel: push, status: granted}}", ["ann"]),
    ("{consent: {channel: push, status: denied}}", ["dan"]),
    ("{consent: {channel: push, status: unknown}}", ["bob", "cat", "eve"]),
    ("{affinity: {category: shoes}}", ["dan"]),
    # event counts over windows
    ("{event: {name: Order Completed, count: {at_least: 3}, within: {last_days: 30}}}", ["ann"]),
    (
        "{event: {name: Order Completed, count: {exactly: 1}, within: {last_days: 30}}}",
        ["bob", "dan"],
    ),
    (
        "{event: {name: Order Completed, count: {at_most: 0}, within: {last_days: 30}}}",
        ["cat", "eve"],
    ),
    ("{event: {name: Order Completed, count: {at_least: 4}}}", ["cat"]),
    (
        "{event: {name: Order Completed, within: {between: [2026-05-20, 2026-05-25]}}}",
        ["ann", "bob"],
    ),
    (
        "{event: {name: Order Completed, within: {between: [2026-05-10, 2026-05-15]}}}",
        ["ann", "dan"],
    ),
    ("{event: {name: Order Completed, within: {since: {days_ago: 15}}}}", ["ann", "bob"]),
    # property filters
    ("{event: {name: Order Completed, where: [{property: category, equals: shoes}]}}", ["ann"]),
    (
        "{event: {name: Order Completed, where: [{property: total, between: [50, 100]}]}}",
        ["ann", "dan"],
    ),
    ("{event: {name: Order Completed, where: [{property: category, in: [bags, hats]}]}}", ["ann"]),
    ("{event: {name: Order Completed, channel: app, where: [{property: total, lt: 35}]}}", ["bob"]),
    # sums, averages, first and last time
    (
        "{event: {name: Order Completed, within: {last_days: 30},"
        " sum: {property: total, gt: 100}}}",
        ["ann"],
    ),
    (
        "{event: {name: Order Completed, within: {last_days: 90}, sum: {property: total, lt: 50}}}",
        ["bob", "cat", "eve"],
    ),
    ("{event: {name: Order Completed, average: {property: total, gte: 50}}}", ["ann", "dan"]),
    (
        "{event: {name: Order Completed, first_time: {after: {days_ago: 25}}}}",
        ["ann", "bob", "dan"],
    ),
    ("{event: {name: Order Completed, last_time: {before: {days_ago: 30}}}}", ["cat"]),
    # sequence, orders, messages, devices
    (
        "{sequence: {first: {name: Product Viewed}, then: {name: Order Completed},"
        " max_gap: {hours: 3}}}",
        ["dan"],
    ),
    (
        "{sequence: {first: {name: Product Viewed}, then: {name: Order Completed},"
        " max_gap: {hours: 1}}}",
        [],
    ),
    ("{order: {channel: store}}", ["ann"]),
    ("{order: {channel: [web], within: {last_days: 30}}}", ["ann", "bob"]),
    ("{order: {total: {gte: 200}}}", ["ann"]),
    ("{order: {count: {at_most: 0}}}", ["dan", "eve"]),
    ("{message: {channel: wechat, keyword: vip}}", ["dan"]),
    ("{message: {channel: sms, contains: stop}}", ["dan"]),
    ("{message: {channel: sms, keyword: vip}}", []),
    ("{device: {os_name: {equals: iOS}}}", ["ann", "dan"]),
    ("{device: {os_name: {equals: Android}, app_version: {starts_with: '2.3'}}}", ["bob"]),
    ("{device: {push_token: true}}", ["ann"]),
    ("{device: {os_name: {equals: iOS}, within: {last_days: 5}}}", ["ann"]),
    # ann's iOS events are on May 12, 23 and 30: none inside this window, one each side.
    ("{device: {os_name: {equals: iOS}, within: {between: [2026-05-25, 2026-05-29]}}}", []),
    ("{device: {app_name: {exists: false}}}", ["cat", "dan"]),  # web and messages
    # combinations
    ("{all: [{trait: {field: orders, gte: 1}}, {not: {order: {channel: store}}}]}", ["bob", "cat"]),
    ("{any: [{device: {push_token: true}}, {message: {keyword: vip}}]}", ["ann", "dan"]),
    ("{not: {device: {os_name: {equals: iOS}}}}", ["bob", "cat", "eve"]),
    (
        "{all: [{not: {trait: {field: orders, gte: 1}}}, {not: {message: {contains: stop}}}]}",
        ["eve"],
    ),
]


@pytest.mark.parametrize("event_source", ["timeline", "identifiers"])
@pytest.mark.parametrize(("condition", "expected"), CASES, ids=[c for c, _ in CASES])
def test_members_are_the_obvious_people(
    business: Warehouse, condition: str, expected: list[str], event_source: str
) -> None:
    assert who(business, condition, event_source=event_source) == expected


def test_the_timeline_is_used_while_the_build_is_current(business: Warehouse) -> None:
    assert sources(business, now=NOW).chosen_event_source() == "timeline"


def test_an_event_loaded_after_the_build_counts_on_both_paths(tmp_path: Any) -> None:
    wh = Warehouse.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    build_business(wh)
    three = "{event: {name: Order Completed, count: {at_least: 2}, within: {last_days: 30}}}"
    assert who(wh, three) == ["ann"]
    late = [event("bob", "Order Completed", ago(1), props={"total": 5})]
    add_events(wh, late, loaded_at=NOW + timedelta(minutes=1), first_id=1000)
    for source in ("auto", "timeline", "identifiers"):
        assert who(wh, three, event_source=source) == ["ann", "bob"], source
    wh.close()


def test_a_device_seen_after_the_build_counts_on_both_paths(tmp_path: Any) -> None:
    wh = Warehouse.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    build_business(wh)
    ios = "{device: {os_name: {equals: iOS}, within: {last_days: 30}}}"
    late = [event("bob", "Screen Viewed", ago(0, 1), os="iOS", device="tablet", channel="app")]
    add_events(wh, late, loaded_at=NOW + timedelta(minutes=1), first_id=1000)
    for source in ("timeline", "identifiers"):
        assert who(wh, ios, event_source=source) == ["ann", "bob", "dan"], source
    wh.close()


def test_device_conditions_read_the_builds_device_summary_while_it_is_current(
    business: Warehouse,
) -> None:
    definition = parse_definition("name: x\ncondition: {device: {os_name: {equals: iOS}}}")
    assert "profile_devices" in sql(definition, business, NOW)
    assert "profile_devices" not in sql(definition, business, NOW, event_source="identifiers")


def test_only_the_profiles_asked_for_are_evaluated(business: Warehouse) -> None:
    ids = profile_of(business)
    import ibis

    asked = ibis.memtable({"profile_id": [ids["bob"], ids["eve"]]})
    condition = "{event: {name: Order Completed, count: {at_most: 1}, within: {last_days: 30}}}"
    assert who(business, condition) == ["bob", "cat", "dan", "eve"]
    assert who(business, condition, profile_ids=asked) == ["bob", "eve"]


def test_member_of_another_segment_reads_its_current_members(business: Warehouse) -> None:
    ids = profile_of(business)
    import pyarrow as pa

    business.append(
        "segment_memberships",
        pa.table(
            {
                "segment": ["vip", "vip", "vip"],
                "profile_id": [ids["ann"], ids["bob"], ids["cat"]],
                "entered_at": [ago(5), ago(5), ago(5)],
                "exited_at": [None, ago(1), None],
                "version": [1, 1, 1],
            }
        ),
    )
    assert who(business, "{segment: vip}") == ["ann", "cat"]
    assert who(business, "{all: [{segment: vip}, {device: {os_name: {equals: iOS}}}]}") == ["ann"]


def test_the_sql_is_one_statement_in_the_engines_dialect(business: Warehouse) -> None:
    definition = parse_definition(
        "name: x\ncondition: {all: [{trait: {field: orders, gte: 1}}, "
        "{event: {name: Order Completed, count: {at_least: 3}, within: {last_days: 30}}}]}"
    )
    text = sql(definition, business, NOW)
    assert text.lstrip().upper().startswith(("SELECT", "WITH"))
    assert "Order Completed" in text and '"profiles"' in text
    found = business.con.sql(text).to_pyarrow().column("profile_id").to_pylist()
    assert found == [profile_of(business)["ann"]]


def _resolver(docs: dict[str, str]) -> Any:
    parsed = {n: parse_definition(f"name: {n}\ncondition: {c}") for n, c in docs.items()}
    return lambda name: parsed.get(name)


def test_a_reference_cycle_is_refused_with_its_path() -> None:
    resolve = _resolver({"b": "{segment: c}", "c": "{all: [{tag: x}, {segment: a}]}"})
    a = parse_definition("name: a\ncondition: {any: [{tag: y}, {segment: b}]}")
    with pytest.raises(ValidationError) as caught:
        check_references(a, resolve)
    assert "a -> b -> c -> a" in str(caught.value)


def test_an_unknown_referenced_segment_is_named() -> None:
    a = parse_definition("name: a\ncondition: {segment: nowhere}")
    with pytest.raises(ValidationError) as caught:
        check_references(a, _resolver({}))
    assert caught.value.value == "nowhere"


def test_a_self_reference_is_a_cycle() -> None:
    a: SegmentDefinition = parse_definition("name: a\ncondition: {not: {segment: a}}")
    with pytest.raises(ValidationError, match="a -> a"):
        check_references(a, _resolver({}))


def test_references_to_existing_acyclic_segments_pass() -> None:
    a = parse_definition("name: a\ncondition: {all: [{segment: b}, {segment: c}]}")
    check_references(a, _resolver({"b": "{segment: c}", "c": "{tag: x}"}))
