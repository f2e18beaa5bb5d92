"""Funnel semantics on ``funnel_world``'s four people: ordered, strict and any order, the
window, property filters, breakdowns (a row dimension and segment membership), time to
convert, a store purchase converting an online visitor, and new events in the next query.
The same counts on DuckDB and PostgreSQL; the compiled SQL snapshotted for both.

Refresh the snapshots with ``OMNI_UPDATE_SNAPSHOTS=1`` when a change to the query is meant.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from omnichannel.analytics.funnels.definition import parse_funnel
from omnichannel.analytics.funnels.service import build, can_match_both, report
from omnichannel.analytics.retention import cohort_counts, parse_retention, table_of
from omnichannel.errors import ValidationError
from omnichannel.identity.rules import load_rules
from omnichannel.warehouse import Warehouse
from tests.analytics.funnel_world import STEPS, add_vip, at, build_funnel_world, profile_of
from tests.profiles.support import T0, add_events

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    path = tmp_path_factory.mktemp("funnels") / "w.duckdb"
    with Warehouse.open(f"duckdb:///{path}") as opened:
        build_funnel_world(opened)
        add_vip(opened, ["ann"])
        yield opened


def funnel(wh: Warehouse, doc: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    query = build(wh, load_rules(), parse_funnel(doc or {"steps": STEPS}, **options))
    return report(query, query.summary().to_pyarrow().to_pylist())


def entered(result: dict[str, Any]) -> list[int]:
    return [s["entered"] for s in result["overall"]["steps"]]


def test_ordered_counts_people_through_steps_in_order_with_store_purchases(wh: Warehouse) -> None:
    result = funnel(wh)
    # ann buys in a store (her POS order joins her web visit: one profile); cat added
    # before she viewed, so in order she stops at step 1; dan's add is 9 days later.
    assert entered(result) == [4, 2, 1]
    steps = result["overall"]["steps"]
    assert steps[1]["conversion_from_previous"] == 0.5 and steps[2]["conversion_from_first"] == 0.25
    assert [s["dropped_off"] for s in steps] == [2, 1, None]
    # ann 1 hour, bob 3 days from view to add: median and p90 interpolate between them.
    assert steps[1]["median_seconds_from_previous"] == (3600 + 259_200) / 2
    assert steps[1]["p90_seconds_from_previous"] == pytest.approx(3600 + 0.9 * 255_600)
    assert steps[2]["median_seconds_from_previous"] == 47 * 3600


def test_strict_allows_nothing_between_steps_and_any_allows_every_order(wh: Warehouse) -> None:
    # bob viewed a page between his view and his add.
    assert entered(funnel(wh, order="strict")) == [4, 1, 1]
    # cat did all three steps in another order: in `any` she counts for three steps.
    anyway = funnel(wh, order="any")
    assert entered(anyway) == [4, 3, 2]


def test_the_window_runs_from_the_first_step(wh: Warehouse) -> None:
    assert entered(funnel(wh, window="2d")) == [4, 1, 1]
    assert entered(funnel(wh, window="1h")) == [4, 1, 0]
    assert entered(funnel(wh, window="10d")) == [4, 3, 1]


def test_property_filters_and_the_entry_date_range(wh: Warehouse) -> None:
    cheap_out = {
        "steps": [
            {"event": "Product Viewed", "where": [{"property": "price", "gte": 100}]},
            *STEPS[1:],
        ]
    }
    assert entered(funnel(wh, cheap_out)) == [3, 2, 1]  # dan (price 20) is out
    # Entry in [day 0 12:00, day 5): only cat's view (day 1) enters.
    assert entered(funnel(wh, since=at(0, 12).isoformat(), until=at(5).isoformat())) == [1, 0, 0]


def test_breakdown_by_channel_and_segment_membership(wh: Warehouse) -> None:
    result = funnel(wh, by=["channel", "segment:vip"])
    got = {
        tuple(b["values"].values()): [s["entered"] for s in b["steps"]] for b in result["breakdown"]
    }
    assert got == {
        ("web", "not vip"): [2, 0, 0],
        ("app", "not vip"): [1, 1, 0],
        ("web", "vip"): [1, 1, 1],
    }
    assert entered(result) == [4, 2, 1]  # the total counts each person once
    campaign = funnel(wh, by="campaign")
    assert {b["values"]["campaign"]: b["steps"][2]["entered"] for b in campaign["breakdown"]} == {
        "Spring mail": 1,
        None: 0,
    }


def test_entry_per_breakdown_value_counts_null_values_too(wh: Warehouse) -> None:
    result = funnel(wh, by="campaign", entry="breakdown")
    got = {b["values"]["campaign"]: [s["entered"] for s in b["steps"]] for b in result["breakdown"]}
    # ann viewed from the campaign; bob, cat and dan with no campaign (bob added later).
    assert got == {"Spring mail": [1, 1, 1], None: [3, 1, 0]}


def test_new_events_count_in_the_next_query_before_identity_resolution(tmp_path: Path) -> None:
    with Warehouse.open(f"duckdb:///{tmp_path / 'w.duckdb'}") as fresh:
        add_events(fresh, [{"user": "zed", "at": at(0), "event": "Product Viewed"}])
        doc = {"steps": ["Product Viewed", "Product Added"]}
        assert entered(funnel(fresh, doc)) == [1, 0]
        fresh.append(
            "events",
            pa.table(
                {
                    "message_id": ["late"],
                    "type": ["track"],
                    "event": ["Product Added"],
                    "user_id": ["zed"],
                    "timestamp": [at(1)],
                    "source": ["web"],
                }
            ),
        )
        assert entered(funnel(fresh, doc)) == [1, 1]


def test_one_fact_is_one_step_when_steps_can_match_the_same_fact(tmp_path: Path) -> None:
    with Warehouse.open(f"duckdb:///{tmp_path / 'w.duckdb'}") as fresh:
        add_events(
            fresh,
            [
                {"user": "once", "at": at(0), "event": "Product Viewed"},
                {"user": "twice", "at": at(0), "event": "Product Viewed"},
                {"user": "twice", "at": at(0, 2), "event": "Product Viewed"},
                # Two facts at one moment: the second may be step 2 (it is another fact).
                {"user": "tie", "at": at(1), "event": "Product Viewed"},
                {"user": "tie", "at": at(1), "event": "Product Added"},
            ],
        )
        again = {"steps": ["Product Viewed", "Product Viewed"]}
        assert entered(funnel(fresh, again)) == [3, 1]  # only "twice" viewed again
        either = {"steps": ["Product Viewed", {"event": ["Product Viewed", "Product Added"]}]}
        assert entered(funnel(fresh, either)) == [3, 2]  # twice, and tie's add
        plain = {"steps": ["Product Viewed", "Product Added"]}
        assert entered(funnel(fresh, plain)) == [3, 1]  # tie's add at the same moment
    d = parse_funnel({"steps": [*either["steps"], {"order": {}}, {"order": {}}, "Page Viewed"]})
    pairs = [can_match_both(a.matches, b.matches) for a, b in pairwise(d.steps)]
    assert pairs == [True, False, True, False]


def test_bad_definitions_name_the_path_value_and_what_is_accepted() -> None:
    cases = [
        ({"steps": ["A"]}, "steps"),
        ({"steps": ["A", {"evnt": "B"}]}, "steps[1].evnt"),
        ({"steps": ["A", "B"], "window": "7x"}, "window"),
        ({"steps": ["A", "B"], "order": "random"}, "order"),
        ({"steps": ["A", {"message": {"status": "sendt"}}]}, "steps[1].message.status"),
        ({"steps": ["A", {"order": {}, "where": [{"property": "x", "gt": 1}]}]}, "steps[1].where"),
        ({"steps": ["A", "B"], "since": "2026-02-01", "until": "2026-01-01"}, "until"),
    ]
    for doc, field in cases:
        with pytest.raises(ValidationError) as caught:
            parse_funnel(doc)
        assert caught.value.field == field, (doc, str(caught.value))
    with pytest.raises(ValidationError, match="segment:NAME"):
        parse_funnel({"steps": ["A", "B"], "by": "chanel"})


def test_retention_cohorts_by_first_event_and_returns(wh: Warehouse) -> None:
    d = parse_retention(
        {"start": "Product Viewed", "returning": "Product Added", "period": "day", "periods": 9}
    )
    table = table_of(d, cohort_counts(wh, load_rules(), d).to_pyarrow().to_pylist())
    by_day = {str(c["cohort"])[:10]: c["counts"] for c in table["cohorts"]}
    # Day 0: ann, bob, dan (first view); bob adds on day 3, dan on day 9. Day 1: cat,
    # whose add came before her view (not a return).
    assert by_day["2026-03-02"] == [3, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert by_day["2026-03-03"] == [1] + [0] * 9
    with pytest.raises(ValidationError) as caught:
        parse_retention({"start": "A", "period": "year"})
    assert caught.value.field == "period"


def test_the_same_counts_on_every_engine(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as other:
        build_funnel_world(other)
        add_vip(other, ["ann"])
        for order, expected in (("ordered", [4, 2, 1]), ("strict", [4, 1, 1]), ("any", [4, 3, 2])):
            result = funnel(other, order=order, by=["channel", "segment:vip"])
            assert entered(result) == expected, order
        ordered = funnel(other)["overall"]["steps"]
        assert ordered[1]["median_seconds_from_previous"] == (3600 + 259_200) / 2
        d = parse_retention({"start": {"order": {}}, "period": "week"})
        rows = cohort_counts(other, load_rules(), d).to_pyarrow().to_pylist()
        assert [(r["period"], r["people"]) for r in rows] == [(0, 2)]
        assert set(profile_of(other)) == {"ann", "bob", "cat", "dan"}


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    with Warehouse.open(f"duckdb:///{tmp_path_factory.mktemp('sql') / 'w.duckdb'}") as opened:
        yield opened


SNAPSHOT_FUNNEL = {
    "steps": [
        {"event": "Product Viewed", "where": [{"property": "price", "gte": 100}]},
        "Product Added",
        {"any_of": [{"order": {"channel": "store"}}, {"message": {"status": ["clicked"]}}]},
    ],
    "window": "7d",
    "since": T0.isoformat(),
    "until": "2026-04-01",
    "by": ["channel", "segment:vip"],
}


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
@pytest.mark.parametrize("order", ["ordered", "strict", "any"])
def test_the_funnel_sql_matches_its_snapshot(empty: Warehouse, dialect: str, order: str) -> None:
    query = build(empty, load_rules(), parse_funnel(SNAPSHOT_FUNNEL, order=order))
    check_snapshot(
        str(ibis.to_sql(query.summary(), dialect=dialect)), f"funnel_{order}.{dialect}.sql"
    )
    if dialect == "duckdb":
        text = (SNAPSHOTS / f"funnel_{order}.duckdb.sql").read_bytes().decode()
        assert empty.con.sql(text).to_pyarrow().num_rows == 0


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_the_retention_sql_matches_its_snapshot(empty: Warehouse, dialect: str) -> None:
    d = parse_retention({"start": "Signed Up", "returning": {"order": {}}, "period": "month"})
    expr = cohort_counts(empty, load_rules(), d)
    check_snapshot(str(ibis.to_sql(expr, dialect=dialect)), f"retention.{dialect}.sql")


def check_snapshot(sql: str, name: str) -> None:
    text = sql.strip() + "\n"
    snapshot = SNAPSHOTS / name
    if os.environ.get("OMNI_UPDATE_SNAPSHOTS") or not snapshot.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_bytes(text.encode())
    assert text == snapshot.read_bytes().decode(), f"compiled SQL changed: see {snapshot}"
