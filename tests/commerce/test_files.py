"""Listings and stock files through the shipped mappings; events from the ledger and
Product Updated events into the listings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from omnichannel.commerce.catalogue import ProductUpdates
from omnichannel.consumers import Checkpoints, ConsumerRunner
from omnichannel.platform import Platform

LISTINGS = (
    "sku,channel,channel_sku,listed,title,price,colour,size\n"
    "LP-A,tmall,TM-9001,yes,Oolong 100g,88.00,amber,100g\n"
    "LP-A,JD,JD-77,no,Oolong 100g,86.00,amber,100g\n"
    "LP-B,wechat,WX-2,1,Jasmine,58,,\n"
    "LP-ZZ,tmall,TM-404,yes,Ghost,1.00,,\n"
)
STOCK = (
    "movement_id,occurred_at,location_id,sku,kind,quantity,reference\n"
    "T1-1,2026-11-30 10:05:00,st-nanjing,LP-A,sale,1,ticket T1\n"
    "T1-2,2026-11-30 10:05:00,st-nanjing,LP-B,sale,1,ticket T1\n"
    "R-9,2026-11-30 08:00:00,st-nanjing,LP-C,receipt,6,truck 7\n"
    "T2-1,2026-11-30 10:30:00,st-nanjing,LP-NOPE,sale,1,ticket T2\n"
    "T3-1,2026-11-30 10:40:00,st-mars,LP-A,sale,1,ticket T3\n"
)


def _dead_letters(platform: Platform, kind: str) -> list[dict[str, object]]:
    with platform.warehouse.reader() as wh:
        letters = wh.table("dead_letters")
        rows = letters.filter(letters.kind == kind).to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: str(r["origin"]))


def test_listings_load_with_the_shipped_mapping_and_unknown_skus_go_to_dead_letters(
    platform: Platform, tmp_path: Path
) -> None:
    path = tmp_path / "listings.csv"
    path.write_text(LISTINGS, encoding="utf-8")
    catalogue = platform.commerce.catalogue
    report = catalogue.load(path, source="erp")
    assert (report["written"], report["rejected"]) == (3, 1)
    [letter] = _dead_letters(platform, "listings")
    assert (letter["field"], letter["value"]) == ("sku", "LP-ZZ")
    assert "unknown" in str(letter["reason"])
    assert catalogue.our_sku("tmall", "TM-9001") == "LP-A"
    jd = catalogue.listings(sku="LP-A", channel="jd")[0]
    assert jd["listed"] is False and jd["attributes"] == {"colour": "amber", "size": "100g"}
    again = catalogue.load(path, source="erp")
    assert (again["written"], again["unchanged"]) == (0, 3)
    # Assortment drives available-to-promise: not listed on jd, nothing to promise there.
    shown = platform.commerce.inventory.show("LP-A")
    assert shown["channels"]["jd"] == {"listed": False, "available": 0}
    assert shown["channels"]["tmall"]["available"] == 5 + 5 + 9 + 50  # stores and the warehouse
    assert shown["channels"]["store"]["available"] == 5 + 5 + 9


def test_a_replayed_stock_file_changes_nothing_and_each_change_is_an_event(
    platform: Platform, tmp_path: Path
) -> None:
    path = tmp_path / "pos.csv"
    path.write_text(STOCK, encoding="utf-8")
    stock = platform.commerce.inventory
    first = stock.load(path, source="pos")
    assert (first["applied"], first["rejected"]) == (3, 2)
    assert sorted(first["reasons"]) == [
        "location_id: a stock location (omni inventory locations lists them)",
        "sku: a SKU of the products table (this one is unknown)",
    ]
    levels = {
        lv["sku"]: lv["on_hand"] for lv in stock.levels() if lv["location_id"] == "st-nanjing"
    }
    assert levels == {"LP-A": 4, "LP-B": 1, "LP-C": 6}
    copy = tmp_path / "pos-again.csv"
    copy.write_text(STOCK, encoding="utf-8")
    again = stock.load(copy, source="pos")
    assert (again["applied"], again["already_applied"], again["events"]) == (0, 3, 0)
    assert {
        lv["sku"]: lv["on_hand"] for lv in stock.levels() if lv["location_id"] == "st-nanjing"
    } == levels
    with platform.warehouse.reader() as wh:
        events = wh.table("events")
        changed = events.filter(events.event == "Inventory Changed").to_pyarrow().to_pylist()
    sales = [
        json.loads(e["properties"])
        for e in changed
        if json.loads(e["properties"])["source"] == "pos"
    ]
    assert sorted((p["sku"], p["movement"], p["on_hand"]) for p in sales) == [
        ("LP-A", "sale", 4),
        ("LP-B", "sale", 1),
        ("LP-C", "receipt", 6),
    ]


def test_product_updated_events_keep_listings_in_step(platform: Platform, tmp_path: Path) -> None:
    path = tmp_path / "listings.csv"
    path.write_text(LISTINGS, encoding="utf-8")
    platform.commerce.catalogue.load(path, source="erp")
    from omnichannel.journeys.updates import store_calls

    at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC).isoformat()
    calls = [
        {
            "type": "track",
            "event": "Product Updated",
            "anonymousId": "erp",
            "messageId": "pu-1",
            "timestamp": at,
            "properties": {"sku": "LP-A", "channel": "jd", "listed": True, "price": 79.0},
        },
        {
            "type": "track",
            "event": "Product Updated",
            "anonymousId": "erp",
            "messageId": "pu-2",
            "timestamp": at,
            "properties": {"sku": "LP-A", "attributes": {"season": "winter"}},
        },
        {
            "type": "track",
            "event": "Product Updated",
            "anonymousId": "erp",
            "messageId": "pu-3",
            "timestamp": at,
            "properties": {"sku": "LP-404", "channel": "jd", "listed": True},
        },
    ]
    assert store_calls(platform, calls) == {}
    runner = ConsumerRunner(
        platform.warehouse, Checkpoints(platform.opstore), [ProductUpdates(platform)]
    )
    runner.catch_up()
    jd = platform.commerce.catalogue.listings(sku="LP-A", channel="jd")[0]
    assert (jd["listed"], jd["price"]) == (True, 79.0)
    assert all(
        listing["attributes"]["season"] == "winter"
        for listing in platform.commerce.catalogue.listings(sku="LP-A")
    )
    [letter] = _dead_letters(platform, "event")
    assert (letter["field"], letter["value"]) == ("properties.sku", "LP-404")
