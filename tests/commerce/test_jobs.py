"""The scheduled commerce jobs: expired holds given back, price conflicts raised as alerts."""

from __future__ import annotations

from datetime import timedelta

from omnichannel.platform import Platform
from tests.commerce.conftest import NOW


def test_the_expiry_job_gives_back_a_hold_nobody_competed_for(platform: Platform) -> None:
    stock = platform.commerce.inventory
    stock.reserve("LP-B", 2, location="st-nanjing", key="cart-old", ttl=timedelta(minutes=5))
    stock.reserve("LP-A", 1, location="st-nanjing", key="cart-new", ttl=timedelta(hours=1))
    assert stock.level("st-nanjing", "LP-B")["available"] == 0
    later = (NOW + timedelta(minutes=10)).isoformat()
    run = platform.jobs.run("reservations-expire", options={"as_of": later})
    assert run.status == "succeeded", run.error
    assert run.rows == 1 and run.detail == {"expired": 1, "events": 1}
    assert stock.level("st-nanjing", "LP-B")["available"] == 2
    assert stock.level("st-nanjing", "LP-A")["reserved"] == 1  # not yet due
    assert [r["key"] for r in stock.reservations(status="expired")] == ["cart-old"]
    # A second pass finds nothing more to do.
    again = platform.jobs.run("reservations-expire", options={"as_of": later})
    assert again.rows == 0 and again.detail["expired"] == 0


def test_the_price_check_job_opens_an_alert_once_and_resolves_it_when_fixed(
    platform: Platform,
) -> None:
    overlap = {
        "promotions": [
            {"name": "a", "channels": ["web"], "skus": ["LP-A"], "discount": 0.1,
             "starts": "2026-11-01", "ends": "2026-12-10"},
            {"name": "b", "channels": ["web"], "skus": ["LP-A"], "discount": 0.3,
             "starts": "2026-11-20", "ends": "2026-12-20"},
        ]
    }  # fmt: skip
    platform.commerce.prices.save(overlap)
    at = {"as_of": NOW.isoformat()}
    first = platform.jobs.run("price-check", options=at)
    assert first.status == "succeeded", first.error
    assert first.detail["opened"] == ["promotion_overlap:a:b"]
    assert platform.jobs.run("price-check", options=at).detail["opened"] == []
    platform.commerce.prices.save({"promotions": overlap["promotions"][:1]})
    fixed = platform.jobs.run("price-check", options=at)
    assert fixed.detail["resolved"] == ["promotion_overlap:a:b"] and fixed.rows == 1
