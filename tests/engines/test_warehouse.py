"""The warehouse layer on every engine, Spark included: one suite, one warehouse per engine.

The tests share their module's warehouse (a Spark warehouse costs seconds to create), so
each writes tables, or keys, no other test here reads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from omnichannel.errors import ValidationError, WarehouseError
from omnichannel.ingest.loader import drain
from omnichannel.ingest.log import EventLog
from omnichannel.warehouse import ALL_TABLES, SCHEMA_VERSION, Warehouse
from omnichannel.warehouse.query import run_sql
from omnichannel.warehouse.versioning import read_version
from tests.engines.gaps import expect_gap
from tests.ingest.test_loader import record

pytestmark = pytest.mark.slow(seconds=60)


@pytest.fixture(scope="module")
def wh(engine_url: str) -> Iterator[Warehouse]:
    with Warehouse.open(engine_url) as opened:
        yield opened


def test_a_fresh_warehouse_has_every_table_and_opens_again_unchanged(
    wh: Warehouse, engine_url: str
) -> None:
    assert sorted(wh.schema_report.created_tables) == sorted(s.name for s in ALL_TABLES)
    for spec in ALL_TABLES:
        assert list(wh.table(spec.name).columns) == list(spec.schema.names)
    assert read_version(wh.con) == SCHEMA_VERSION
    with Warehouse.open(engine_url) as again:
        assert again.schema_report.created_tables == []
        assert again.schema_report.added_columns == []
        assert again.schema_report.found_version == SCHEMA_VERSION


def test_money_stays_exact_and_missing_columns_are_null(wh: Warehouse) -> None:
    lines = pa.table(
        {
            "order_id": ["o1", "o1", "o1"],
            "line_number": [1, 2, 3],
            "unit_price": [Decimal("0.10"), Decimal("0.10"), None],
            "line_total": [Decimal("0.10")] * 3,
        }
    )
    assert wh.append("order_lines", lines) == 3
    t = wh.table("order_lines")
    assert t.line_total.sum().to_pyarrow().as_py() == Decimal("0.30")
    assert t.sku.isnull().all().to_pyarrow().as_py()
    assert t.unit_price.isnull().sum().to_pyarrow().as_py() == 1


def test_bad_rows_are_refused_naming_the_column(wh: Warehouse) -> None:
    with pytest.raises(ValidationError, match=r"ad_spend\.impressions"):
        wh.append("ad_spend", pa.table({"impressions": ["lots"]}))
    with pytest.raises(ValidationError, match="floor_area"):
        wh.append("stores", pa.table({"store_id": ["s1"], "floor_area": [120]}))


def test_new_events_are_appended_once_numbered_in_order_and_queryable_as_json(
    wh: Warehouse,
) -> None:
    def batch(ids: list[str]) -> pa.Table:
        return pa.table(
            {
                "message_id": ids,
                "type": ["track"] * len(ids),
                "event": ["Product Viewed"] * len(ids),
                "anonymous_id": ["a1"] * len(ids),
                "timestamp": [dt.datetime(2026, 1, 1, 9 + i) for i in range(len(ids))],
                "properties": [json.dumps({"sku": f"X{m}"}) for m in ids],
            }
        )

    first = wh.append_new("events", batch(["m3", "m1", "m2"]))
    again = wh.append_new("events", batch(["m2", "m4"]))
    assert (first.written, first.already, again.written, again.already) == (3, 0, 1, 1)
    t = wh.table("events")
    expr = t.select(
        "message_id",
        "load_seq",
        sku=t.properties.cast("json")["sku"].unwrap_as("string"),
        hour=t.timestamp.hour(),
    ).order_by("load_seq")
    rows = expr.to_pyarrow().to_pylist()
    assert [(r["message_id"], r["load_seq"]) for r in rows] == [
        ("m3", 1),
        ("m1", 2),
        ("m2", 3),
        ("m4", 4),
    ]
    assert [(r["sku"], r["hour"]) for r in rows[:2]] == [("Xm3", 9), ("Xm1", 10)]


def _customer(name: str, month: int) -> pa.Table:
    return pa.table(
        {
            "source": ["crm"],
            "record_id": ["r1"],
            "last_name": [name],
            "updated_at": [dt.datetime(2024, month, 1)],
        }
    )


def test_upsert_keeps_one_current_version_per_key_and_the_rest_in_history(
    wh: Warehouse,
) -> None:
    first = wh.upsert("customer_records", _customer("Lee", 2), version="updated_at")
    same = wh.upsert("customer_records", _customer("Lee", 2), version="updated_at")
    newer = wh.upsert("customer_records", _customer("Wu", 5), version="updated_at")
    older = wh.upsert("customer_records", _customer("Old", 1), version="updated_at")
    assert (first.inserted, same.unchanged, newer.updated, older.older) == (1, 1, 1, 1)
    current = wh.table("customer_records").to_pyarrow().to_pylist()
    assert [c["last_name"] for c in current] == ["Wu"]
    h = wh.table("record_history")
    history = h.filter(h.table_name == "customer_records").order_by("reason").to_pyarrow()
    assert [(r["reason"], json.loads(r["row"])["last_name"]) for r in history.to_pylist()] == [
        ("older_on_arrival", "Old"),
        ("superseded", "Lee"),
    ]


def test_an_upsert_that_fails_part_way_leaves_the_record_as_it_was(
    wh: Warehouse, request: pytest.FixtureRequest
) -> None:
    expect_gap(request, wh.engine, "transactions")
    record = pa.table({"product_id": ["p9"], "name": ["Tea"]})
    wh.upsert("products", record)

    def crash(step: str) -> None:
        if step == "superseded_deleted":
            raise RuntimeError("crash between the delete and the insert")

    with pytest.raises(RuntimeError):
        wh.upsert(
            "products", record.set_column(1, "name", pa.array(["Green tea"])), after_step=crash
        )
    p = wh.table("products")
    assert p.filter(p.product_id == "p9").name.to_pyarrow().to_pylist() == ["Tea"]


def test_delete_by_key_and_truncate(wh: Warehouse) -> None:
    wh.append("campaigns", pa.table({"campaign_id": ["c1", "c2", "c3"], "name": ["a", None, "c"]}))
    wh.delete_keys("campaigns", pa.table({"campaign_id": ["c2", "c9"]}))
    left = wh.table("campaigns").campaign_id.to_pyarrow().to_pylist()
    assert sorted(left) == ["c1", "c3"]
    wh.truncate(["campaigns"])
    assert wh.table("campaigns").count().to_pyarrow().as_py() == 0
    assert list(wh.table("campaigns").columns) == list(wh.spec("campaigns").schema.names)


def test_replace_swaps_in_the_new_rows_whole_or_keeps_the_old_ones(wh: Warehouse) -> None:
    stores = pa.table({"store_id": ["s1", "s2", "s3"], "city": ["Shanghai", "Beijing", "Shanghai"]})
    wh.append("stores", stores)
    current = wh.table("stores")
    wh.replace("stores", current.filter(current.city == "Shanghai"), order_by=("store_id",))
    kept = wh.table("stores").order_by("store_id").store_id.to_pyarrow().to_pylist()
    assert kept == ["s1", "s3"]
    broken = wh.table("stores").mutate(opened_at=ibis.literal("not a time").cast("timestamp"))
    with pytest.raises(WarehouseError, match="stores__next"):
        wh.replace("stores", broken)
    assert sorted(wh.table("stores").store_id.to_pyarrow().to_pylist()) == ["s1", "s3"]


def test_ad_hoc_sql_runs_in_the_engines_dialect_and_writes_are_refused(wh: Warehouse) -> None:
    spend = pa.table(
        {
            "date": [dt.date(2026, 1, 1), dt.date(2026, 1, 2)],
            "channel": ["search", "search"],
            "spend": [Decimal("100.00"), Decimal("25.25")],
            "clicks": [30, 9],
        }
    )
    wh.append("ad_spend", spend)
    result = run_sql(wh, "SELECT channel, SUM(spend) AS spend FROM ad_spend GROUP BY channel")
    assert result.table.to_pylist() == [{"channel": "search", "spend": Decimal("125.25")}]
    with pytest.raises(ValidationError):
        run_sql(wh, "DELETE FROM ad_spend")


def test_the_loader_stores_a_logs_events_and_dead_letters_once_even_when_replayed(
    wh: Warehouse, tmp_path: Path
) -> None:
    # What `omni serve`'s loader does with the collector's log, on this engine.
    records = [record("ld-a", "ld-b", refused=1), record("ld-c", "ld-a")]  # ld-a retried
    with EventLog.open(tmp_path / "log") as log:
        for r in records:
            log.append(r)
        stored = drain(log, wh)
    assert (stored.events_stored, stored.duplicates, stored.dead_letters) == (3, 1, 1)
    # The same records again, as after a crash before the checkpoint: nothing twice.
    with EventLog.open(tmp_path / "replayed") as log:
        for r in records:
            log.append(r)
        replayed = drain(log, wh)
    assert (replayed.events_stored, replayed.duplicates, replayed.dead_letters) == (0, 4, 0)
    t = wh.table("events")
    rows = t.filter(t.message_id.startswith("ld-")).order_by("load_seq").to_pyarrow()
    assert rows.column("message_id").to_pylist() == ["ld-a", "ld-b", "ld-c"]
    numbers = rows.column("load_seq").to_pylist()
    assert numbers == sorted(set(numbers)) and len(numbers) == 3
    letters = wh.table("dead_letters")
    mine = letters.filter(letters.dead_letter_id.startswith("dl-ld-"))
    assert mine.count().to_pyarrow().as_py() == 1


def test_a_second_warehouse_on_the_same_store_sees_appends_made_after_it_read(
    wh: Warehouse, engine_url: str
) -> None:
    # `omni serve` reads on one warehouse per thread and appends on another; on Spark each
    # is a session of its own, which cached a table's files at its first read.
    stores = pa.table({"store_id": ["r1"], "name": ["Riverside"]})
    with Warehouse.open(engine_url) as reader:
        seen = reader.table("stores")
        before = seen.filter(seen.store_id == "r1").count().to_pyarrow().as_py()
        wh.append("stores", stores)
        after = reader.table("stores")
        assert (before, after.filter(after.store_id == "r1").count().to_pyarrow().as_py()) == (0, 1)
