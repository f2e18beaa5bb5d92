"""The commerce page on the small demo home: stock by location and channel, holds,
orders by route, price conflicts and alerts, catchment credit; each table's CSV gives
what the library gives; the page speaks Chinese."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from tests.support.catalogue import WEB, untranslated

BOOK = (
    "promotions:\n"
    "  - {name: a, channels: [web], category: 'tea & snacks', discount: 0.1,"
    " starts: 2026-01-01, ends: 2036-01-01}\n"
    "  - {name: b, channels: [web], category: 'tea & snacks', discount: 0.3,"
    " starts: 2026-01-01, ends: 2036-01-01}\n"
)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.mark.slow(seconds=15)
def test_the_commerce_page_shows_stock_holds_orders_conflicts_and_catchment(
    client: TestClient,
) -> None:
    locations = _csv(client.get("/commerce?format=csv&table=locations").text)
    assert {r["kind"] for r in locations} == {"warehouse", "store", "transit"}
    before = {r["location_id"]: r for r in locations}
    atp = _csv(client.get("/commerce?format=csv&table=atp").text)
    held_sku = next(r["sku"] for r in atp if int(r["web"]) > 0)
    shown = client.get(f"/api/commerce/inventory/{held_sku}").json()
    where = next(lv["location_id"] for lv in shown["locations"] if lv["available"] > 0)
    hold = {"sku": held_sku, "quantity": 1, "location": where, "key": "page-hold"}
    assert client.post("/api/commerce/inventory/reservations", json=hold).status_code == 201
    assert client.put("/api/commerce/prices/book", json={"document": BOOK}).status_code == 200
    assert client.post("/api/commerce/prices/check", params={"notify": False}).status_code == 200

    page = client.get("/commerce", params={"sku": held_sku})
    assert page.status_code == 200 and 'href="/commerce"' in page.text  # in the navigation
    for part in ("stock-chart", "stock-locations", "atp", "sku-levels", "reservations"):
        assert f'id="{part}"' in page.text, part
    for part in ("orders-summary", "price-conflicts", "price-alerts", "catchment"):
        assert f'id="{part}"' in page.text, part
    assert "page-hold" in page.text
    assert "promotion_overlap:a:b" in page.text, client.get("/api/commerce/prices/book").json()
    after = {r["location_id"]: r for r in _csv(client.get("/commerce?format=csv").text)}
    assert int(after[where]["reserved"]) == int(before[where]["reserved"]) + 1
    assert int(after[where]["available"]) == int(before[where]["available"]) - 1
    atp = {r["sku"]: r for r in _csv(client.get("/commerce?format=csv&table=atp").text)}
    shown = client.get(f"/api/commerce/inventory/{held_sku}").json()
    assert {c: int(atp[held_sku][c]) for c in shown["channels"]} == {
        c: v["available"] for c, v in shown["channels"].items()
    }
    catchment = _csv(client.get("/commerce?format=csv&table=catchment").text)
    direct = client.get("/api/commerce/conflict/catchment").json()
    assert [r["store_id"] for r in catchment] == [s["store_id"] for s in direct["stores"]]
    assert sum(int(r["credited_orders"]) for r in catchment) == direct["credited_orders"] > 0
    alerts = _csv(client.get("/commerce?format=csv&table=alerts").text)
    assert "promotion_overlap:a:b" in [a["subject"] for a in alerts if a["state"] == "open"]
    missing = client.get("/commerce", params={"campaign": "NO-SUCH"})
    assert (
        missing.status_code == 200 and "NO-SUCH" in missing.text and 'role="alert"' in missing.text
    )
    released = client.post("/api/commerce/inventory/reservations/page-hold/release")
    assert released.status_code == 200 and released.json()["changed"] is True
    chinese = client.get("/commerce?lang=zh").text
    assert "库存" in chinese and "Stock by location" not in chinese


def test_every_string_of_the_commerce_page_is_in_the_chinese_catalogue() -> None:
    assert untranslated(WEB / "pages" / "commerce.py", WEB / "templates" / "commerce.html") == []
