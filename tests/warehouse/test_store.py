"""The warehouse on every engine of the matrix: schema, appends, money, JSON, versions."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import ibis
import pyarrow as pa
import pytest

from omnichannel.errors import SchemaVersionError, ValidationError, WarehouseError
from omnichannel.warehouse import ALL_TABLES, SCHEMA_VERSION, Warehouse, dialect
from omnichannel.warehouse.versioning import read_version, write_version


def test_fresh_warehouse_has_every_canonical_table_at_current_version(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        assert wh.schema_report.found_version is None
        assert sorted(wh.schema_report.created_tables) == sorted(s.name for s in ALL_TABLES)
        for spec in ALL_TABLES:
            assert list(wh.table(spec.name).columns) == list(spec.schema.names)
            # Created by our own CREATE TABLE: the types Ibis's create_table gives.
            wh.con.create_table(f"{spec.name}_by_ibis", schema=spec.schema)
            assert wh.con.get_schema(spec.name) == wh.con.get_schema(f"{spec.name}_by_ibis")
        assert read_version(wh.con) == SCHEMA_VERSION
    with Warehouse.open(warehouse_url) as again:
        assert again.schema_report.created_tables == []
        assert again.schema_report.found_version == SCHEMA_VERSION


def test_append_fills_missing_columns_and_keeps_money_exact(warehouse_url: str) -> None:
    lines = pa.table(
        {
            "order_id": ["o1", "o1", "o1"],
            "line_number": [1, 2, 3],
            "quantity": [1, 1, 1],
            "unit_price": [Decimal("0.10")] * 3,
            "line_total": [Decimal("0.10")] * 3,
        }
    )
    with Warehouse.open(warehouse_url) as wh:
        assert wh.append("order_lines", lines) == 3
        t = wh.table("order_lines")
        total = t.line_total.sum().to_pyarrow().as_py()
        assert total == Decimal("0.30")  # a float column would give 0.30000000000000004
        assert t.sku.isnull().all().to_pyarrow().as_py()
        assert wh.counts()["order_lines"] == 3


def test_append_names_an_unknown_column(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh, pytest.raises(ValidationError) as raised:
        wh.append("stores", pa.table({"store_id": ["s1"], "floor_area": [120]}))
    assert "floor_area" in str(raised.value)
    assert "store_id" in str(raised.value)  # says what would be accepted


def test_append_names_a_value_that_does_not_fit_the_type(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh, pytest.raises(ValidationError) as raised:
        wh.append("ad_spend", pa.table({"impressions": ["lots"]}))
    assert "ad_spend.impressions" in str(raised.value)
    assert "int64" in str(raised.value)


def test_unknown_table_is_named_with_the_accepted_ones(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh, pytest.raises(ValidationError) as raised:
        wh.table("customers")
    assert "'customers'" in str(raised.value) and "events" in str(raised.value)


def test_event_documents_are_queryable_as_json_on_every_engine(warehouse_url: str) -> None:
    event = {
        "message_id": ["m1", "m2"],
        "type": ["track", "track"],
        "event": ["Order Completed", "Product Viewed"],
        "anonymous_id": ["a1", "a1"],
        "timestamp": [dt.datetime(2026, 1, 1, 9), dt.datetime(2026, 1, 1, 21)],
        "properties": [json.dumps({"revenue": 99.5, "sku": "X"}), json.dumps({"sku": "Y"})],
    }
    with Warehouse.open(warehouse_url) as wh:
        wh.append("events", pa.table(event))
        t = wh.table("events")
        expr = t.select(
            "message_id",
            sku=t.properties.cast("json")["sku"].unwrap_as("string"),
            hour=t.timestamp.hour(),
        ).order_by("message_id")
        rows = expr.to_pyarrow().to_pylist()
    assert rows == [
        {"message_id": "m1", "sku": "X", "hour": 9},
        {"message_id": "m2", "sku": "Y", "hour": 21},
    ]


def test_newer_warehouse_is_refused_with_both_versions(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        write_version(wh.con, SCHEMA_VERSION + 5)
    with pytest.raises(SchemaVersionError) as raised:
        Warehouse.open(warehouse_url)
    message = str(raised.value)
    assert f"schema_version={SCHEMA_VERSION + 5}" in message
    assert f"up to {SCHEMA_VERSION}" in message


def test_older_warehouse_missing_a_column_is_upgraded_keeping_its_rows(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        wh.append("stores", pa.table({"store_id": ["s1"], "name": ["Jing'an"]}))
        dialect.execute(wh.con, 'ALTER TABLE "stores" DROP COLUMN "timezone"')
        write_version(wh.con, SCHEMA_VERSION - 1)
    with Warehouse.open(warehouse_url) as wh:
        assert wh.schema_report.upgraded
        assert wh.schema_report.added_columns == ["stores.timezone"]
        assert read_version(wh.con) == SCHEMA_VERSION
        rows = wh.table("stores").select("store_id", "name", "timezone").to_pyarrow().to_pylist()
    assert rows == [{"store_id": "s1", "name": "Jing'an", "timezone": None}]


def test_incompatible_column_type_is_refused_naming_the_column(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        dialect.execute(wh.con, 'ALTER TABLE "ad_spend" DROP COLUMN "clicks"')
        dialect.execute(wh.con, 'ALTER TABLE "ad_spend" ADD COLUMN "clicks" VARCHAR')
    with pytest.raises(SchemaVersionError) as raised:
        Warehouse.open(warehouse_url)
    assert "ad_spend.clicks" in str(raised.value)
    assert "int64" in str(raised.value)


def test_one_expression_compiles_for_the_engine_it_runs_on(warehouse_url: str) -> None:
    spend = pa.table(
        {
            "date": [dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 2)],
            "channel": ["search", "social", "search"],
            "campaign_id": ["c1", "c2", "c1"],
            "spend": [Decimal("100.00"), Decimal("50.50"), Decimal("25.25")],
            "impressions": [1000, 800, 300],
            "clicks": [30, 8, 9],
        }
    )
    with Warehouse.open(warehouse_url) as wh:
        wh.append("ad_spend", spend)
        t = wh.table("ad_spend")
        expr = (
            t.group_by("channel")
            .agg(spend=t.spend.sum(), ctr=t.clicks.sum() / t.impressions.sum())
            .order_by("channel")
        )
        rows = expr.to_pyarrow().to_pylist()
    assert rows[0]["channel"] == "search" and rows[0]["spend"] == Decimal("125.25")
    assert rows[0]["ctr"] == pytest.approx(39 / 1300)
    assert rows[1] == {"channel": "social", "spend": Decimal("50.50"), "ctr": pytest.approx(0.01)}


def test_truncate_empties_tables_but_keeps_them(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        wh.append("stores", pa.table({"store_id": ["s1", "s2"]}))
        wh.truncate(["stores"])
        assert wh.counts()["stores"] == 0
        assert "store_id" in wh.table("stores").columns


def test_version_1_order_lines_take_their_orders_source_on_upgrade(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        wh.append("orders", pa.table({"order_id": ["o1"], "source": ["shopify"]}))
        wh.append("order_lines", pa.table({"order_id": ["o1", "o1"], "line_number": [1, 2]}))
        dialect.execute(wh.con, 'ALTER TABLE "order_lines" DROP COLUMN "source"')
        write_version(wh.con, 1)
    with Warehouse.open(warehouse_url) as wh:
        assert wh.schema_report.upgraded
        lines = wh.table("order_lines").order_by("line_number").to_pyarrow().to_pylist()
    assert [(ln["source"], ln["order_id"], ln["line_number"]) for ln in lines] == [
        ("shopify", "o1", 1),
        ("shopify", "o1", 2),
    ]


def test_upsert_keeps_one_current_version_per_key_and_the_rest_in_history(
    warehouse_url: str,
) -> None:
    def record(name: str, updated: int) -> pa.Table:
        return pa.table(
            {
                "source": ["crm"],
                "record_id": ["r1"],
                "last_name": [name],
                "updated_at": [dt.datetime(2024, updated, 1)],
            }
        )

    with Warehouse.open(warehouse_url) as wh:
        first = wh.upsert("customer_records", record("Lee", 2), version="updated_at")
        same = wh.upsert("customer_records", record("Lee", 2), version="updated_at")
        newer = wh.upsert("customer_records", record("Wu", 5), version="updated_at")
        older = wh.upsert("customer_records", record("Old", 1), version="updated_at")
        current = wh.table("customer_records").to_pyarrow().to_pylist()
        history = wh.table("record_history").order_by("reason").to_pyarrow().to_pylist()
    assert (first.inserted, same.unchanged, newer.updated, older.older) == (1, 1, 1, 1)
    assert [c["last_name"] for c in current] == ["Wu"]
    assert [(h["reason"], json.loads(h["row"])["last_name"]) for h in history] == [
        ("older_on_arrival", "Old"),
        ("superseded", "Lee"),
    ]


def test_upsert_of_one_key_twice_keeps_the_later_row(warehouse_url: str) -> None:
    rows = pa.table({"store_id": ["s1", "s1", "s2"], "name": ["Old", "New", "Other"]})
    with Warehouse.open(warehouse_url) as wh:
        result = wh.upsert("stores", rows)
        stored = wh.table("stores").select("store_id", "name").to_pyarrow().to_pylist()
    assert result.inserted == 2
    assert {r["store_id"]: r["name"] for r in stored} == {"s1": "New", "s2": "Other"}


def test_a_backend_error_is_re_raised_with_the_failing_statement(warehouse_url: str) -> None:
    stores = pa.table({"store_id": ["s1"], "name": ["Jing'an"]})
    with Warehouse.open(warehouse_url) as wh:
        with pytest.raises(WarehouseError, match=r"(?s)could not append to stores.*SQL: INSERT"):
            wh.append_new("stores", stores, key=("no_such_column",))
        assert wh.table("stores").count().to_pyarrow().as_py() == 0


def test_replace_swaps_in_the_new_rows_whole_or_keeps_the_old_ones(warehouse_url: str) -> None:
    stores = pa.table({"store_id": ["s1", "s2", "s3"], "city": ["Shanghai", "Beijing", "Shanghai"]})
    with Warehouse.open(warehouse_url) as wh:
        wh.append("stores", stores)
        current = wh.table("stores")
        wh.replace("stores", current.filter(current.city == "Shanghai"), order_by=("store_id",))
        kept = wh.table("stores").order_by("store_id").to_pyarrow()
        assert kept.column("store_id").to_pylist() == ["s1", "s3"]
        assert list(wh.table("stores").columns) == list(wh.spec("stores").schema.names)
        broken = wh.table("stores").mutate(opened_at=ibis.literal("not a time").cast("timestamp"))
        with pytest.raises(WarehouseError, match="stores__next"):
            wh.replace("stores", broken)
        assert sorted(wh.table("stores").store_id.to_pyarrow().to_pylist()) == ["s1", "s3"]
