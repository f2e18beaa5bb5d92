"""Routing explains itself: the chosen location, and why every other one lost."""

from __future__ import annotations

from typing import Any

from omnichannel.platform import Platform
from tests.commerce.conftest import CUSTOMER


def _by_id(decision: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["location_id"]: c for c in decision["candidates"]}


def _ship(platform: Platform, ref: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    platform.commerce.orders.create(
        ref,
        channel="web",
        lines=lines,
        fulfilment="ship",
        latitude=CUSTOMER[0],
        longitude=CUSTOMER[1],
        email="ann@mail.cn",
    )
    return platform.commerce.orders.route(ref)


def test_ship_from_the_nearest_open_store_and_say_why_the_others_lost(platform: Platform) -> None:
    decision = _ship(platform, "W-1", [{"sku": "LP-A", "quantity": 2}])
    assert decision["status"] == "routed"
    assert decision["parts"] == [
        {
            "location_id": "st-nanjing",
            "method": "ship_from_store",
            "lines": [{"sku": "LP-A", "quantity": 2}],
        }
    ]
    why = {lid: c["rejected"] for lid, c in _by_id(decision).items()}
    assert why["st-nanjing"] is None
    assert why["st-pudong"].startswith("closed now (opens 18:00-23:30")
    assert why["st-xujiahui"].startswith("holds every line but costs")
    assert why["wh-kunshan"].startswith("holds every line but costs")
    assert why["tr-truck"].startswith("stock in transit")
    # The units are held for the order, and routing again holds nothing more.
    assert platform.commerce.inventory.level("st-nanjing", "LP-A")["reserved"] == 2
    platform.commerce.orders.route("W-1")
    assert platform.commerce.inventory.level("st-nanjing", "LP-A")["reserved"] == 2
    history = [h["status"] for h in platform.commerce.orders.get("W-1")["history"]]
    assert history == ["received", "routed"]


def test_a_store_at_capacity_for_the_day_is_passed_over(platform: Platform) -> None:
    for n in range(3):
        assert (
            _ship(platform, f"C-{n}", [{"sku": "LP-A", "quantity": 1}])["parts"][0]["location_id"]
            == "st-nanjing"
        )
    decision = _ship(platform, "C-3", [{"sku": "LP-A", "quantity": 1}])
    assert decision["parts"][0]["location_id"] == "st-xujiahui"
    assert _by_id(decision)["st-nanjing"]["rejected"] == "at capacity: 3 of 3 orders today"


def test_lines_no_one_location_holds_are_split(platform: Platform) -> None:
    decision = _ship(
        platform, "S-1", [{"sku": "LP-B", "quantity": 2}, {"sku": "LP-D", "quantity": 1}]
    )
    assert decision["outcome"] == "split"
    assert {p["location_id"]: p["method"] for p in decision["parts"]} == {
        "st-nanjing": "ship_from_store",
        "wh-kunshan": "ship_from_warehouse",
    }


def test_a_pickup_store_short_of_a_line_is_named_with_the_line(platform: Platform) -> None:
    platform.commerce.orders.create(
        "P-1",
        channel="app",
        lines=[{"sku": "LP-B", "quantity": 2}],
        fulfilment="pickup",
        pickup_location="st-xujiahui",
        email="ann@mail.cn",
    )
    decision = platform.commerce.orders.route("P-1")
    assert decision["status"] == "unroutable"
    assert decision["why"] == "st-xujiahui: short of LP-B (needs 2, 1 available)"
    assert decision["alternative_pickup"] == "st-nanjing"
    assert platform.commerce.inventory.level("st-xujiahui", "LP-B")["reserved"] == 0
