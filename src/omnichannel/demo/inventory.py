"""The demo business's listings and stock: a few files beside its other exports, loaded.

Lotus & Pine sells every product on its web shop, app and WeChat mini-program, part of
the range on tmall and jd (under the marketplaces' own codes) and in its stores. Stock
sits in one distribution centre (Kunshan), on each store's shelf and on a truck. The
files are written to ``<exports>/commerce/`` (``listings.csv``, ``stock.csv``) and go
through ``platform.commerce`` like a user's would (the shipped mappings
``omnichannel-listings`` and ``omnichannel-stock``); a planted listing of a SKU the
catalogue does not know goes to the dead letters. Small by design: a few hundred rows,
so ``omni demo`` takes about as long as before.

Example::

    summary = load_demo_inventory(settings, exports_dir, seed=7)
    # {"locations": 12, "listings": {...}, "stock": {...}}
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from omnichannel.demo.exports import write_csv

if TYPE_CHECKING:
    from omnichannel.config import Settings
    from omnichannel.platform import Platform

DC: dict[str, Any] = {
    "location_id": "DC-KUNSHAN",
    "kind": "warehouse",
    "name": "Kunshan DC",
    "latitude": 31.385,
    "longitude": 120.98,
    "timezone": "Asia/Shanghai",
    "ship_cost": 8.0,
}
TRUCK: dict[str, Any] = {
    "location_id": "TR-001",
    "kind": "transit",
    "name": "Truck to the stores",
    "timezone": "Asia/Shanghai",
}
ONLINE = ("web", "app", "wechat")
MARKETPLACES = {"tmall": "TM", "jd": "JD"}
STORE_RANGE = 24  # products each store carries


def load_demo_inventory(settings: Settings, exports: Path, *, seed: int) -> dict[str, Any]:
    """Locations from the stores table, listings and stock files written and loaded."""
    from omnichannel.platform import Platform

    rng = np.random.default_rng([seed, 16])
    with Platform(settings) as platform:
        stores = _stores(platform)
        skus = sorted(platform.commerce.catalogue.known_skus() & _skus(platform))
        folder = exports / "commerce"
        folder.mkdir(parents=True, exist_ok=True)
        stock = platform.commerce.inventory
        for location in (DC, TRUCK, *stores):
            values = {k: v for k, v in location.items() if k != "location_id"}
            stock.put_location(str(location["location_id"]), **values)
        listings = folder / "listings.csv"
        write_csv(listings, _arrays(_listings(skus, rng)))
        movements = folder / "stock.csv"
        write_csv(
            movements, _arrays(_movements(skus, [str(s["location_id"]) for s in stores], rng))
        )
        return {
            "locations": 2 + len(stores),
            "listings": _short(platform.commerce.catalogue.load(listings, source="erp")),
            "stock": _short(stock.load(movements, source="pos")),
        }


def _arrays(rows: dict[str, list[Any]]) -> dict[str, pa.Array]:
    return {name: pa.array(values) for name, values in rows.items()}


def _short(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if isinstance(v, int)}


def _stores(platform: Platform) -> list[dict[str, Any]]:
    with platform.warehouse.reader() as wh:
        rows = wh.table("stores").to_pyarrow().to_pylist()
    return [
        {
            "location_id": r["store_id"],
            "kind": "store",
            "name": r["name"] or r["store_id"],
            "latitude": r["latitude"],
            "longitude": r["longitude"],
            "timezone": r["timezone"] or "Asia/Shanghai",
            "opens": "10:00",
            "closes": "22:00",
            "capacity_per_day": 40,
            "ship_cost": 6.0,
            "pickup": True,
        }
        for r in rows
    ]


def _skus(platform: Platform) -> set[str]:
    with platform.warehouse.reader() as wh:
        products = wh.table("products")
        return {v for v in products.sku.to_pyarrow().to_pylist() if v}


def _listings(skus: list[str], rng: np.random.Generator) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {
        k: []
        for k in ("sku", "channel", "channel_sku", "listed", "title", "price", "colour", "size")
    }

    def add(sku: str, channel: str, code: str, listed: str) -> None:
        rows["sku"].append(sku)
        rows["channel"].append(channel)
        rows["channel_sku"].append(code)
        rows["listed"].append(listed)
        rows["title"].append(f"Lotus & Pine {sku}")
        rows["price"].append(None)
        rows["colour"].append(str(rng.choice(["jade", "amber", "ink", "rose"])))
        rows["size"].append(str(rng.choice(["S", "M", "L"])))

    for i, sku in enumerate(skus):
        for channel in ONLINE:
            add(sku, channel, sku, "yes")
        for channel, prefix in MARKETPLACES.items():
            # Marketplaces carry about half the range, under their own codes.
            add(sku, channel, f"{prefix}-{100000 + i * 7}", "yes" if rng.random() < 0.5 else "no")
        add(sku, "store", sku, "yes" if rng.random() < 0.8 else "no")
    add("LP-RETIRED-404", "tmall", "TM-404", "yes")  # planted: no such product
    return rows


def _movements(
    skus: list[str], stores: list[str], rng: np.random.Generator
) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "movement_id",
            "occurred_at",
            "location_id",
            "sku",
            "kind",
            "quantity",
            "reference",
        )
    }
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

    def add(mid: str, at: datetime, location: str, sku: str, kind: str, n: int, ref: str) -> None:
        rows["movement_id"].append(mid)
        # The shipped mapping reads times in Asia/Shanghai, as the tills write them.
        rows["occurred_at"].append((at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S"))
        rows["location_id"].append(location)
        rows["sku"].append(sku)
        rows["kind"].append(kind)
        rows["quantity"].append(n)
        rows["reference"].append(ref)

    for sku in skus:
        add(
            f"GRN-{sku}",
            start,
            DC["location_id"],
            sku,
            "receipt",
            int(rng.integers(40, 400)),
            "goods received",
        )
    for sku in skus[:10]:
        add(f"TRK-{sku}", start, TRUCK["location_id"], sku, "receipt", 12, "in transit")
    for s, store in enumerate(stores):
        carried = rng.choice(len(skus), size=min(STORE_RANGE, len(skus)), replace=False)
        for j in carried:
            sku = skus[int(j)]
            add(
                f"{store}-IN-{sku}",
                start,
                store,
                sku,
                "receipt",
                int(rng.integers(2, 12)),
                "shelf fill",
            )
            if rng.random() < 0.3:  # a till sale the day after
                at = start + timedelta(days=1, hours=int(rng.integers(2, 12)))
                add(f"{store}-T{s}{j}", at, store, sku, "sale", 1, f"ticket {store}-{j}")
    return rows
