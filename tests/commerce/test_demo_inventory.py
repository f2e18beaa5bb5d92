"""The demo's listings and stock files, written beside its exports and loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa

from omnichannel.config import Settings
from omnichannel.demo.inventory import load_demo_inventory
from omnichannel.platform import Platform


def test_demo_stock_and_listings_load_with_the_planted_unknown_sku_refused(
    commerce_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(commerce_home, home)
    settings = Settings(home=home)
    with Platform(settings) as platform, platform.warehouse.writer() as wh:
        wh.append(
            "stores",
            pa.table(
                {
                    "store_id": ["ST-001", "ST-002"],
                    "name": ["Shanghai Flagship", "Hangzhou Mall"],
                    "latitude": [31.23, 30.27],
                    "longitude": [121.47, 120.15],
                    "timezone": ["Asia/Shanghai"] * 2,
                }
            ),
        )
    summary = load_demo_inventory(settings, tmp_path / "exports", seed=7)
    assert summary["locations"] == 4
    assert summary["listings"]["written"] == 5 * 6 and summary["listings"]["rejected"] == 1
    assert summary["stock"]["rejected"] == 0 and summary["stock"]["applied"] > 5
    assert (tmp_path / "exports" / "commerce" / "stock.csv").is_file()
    with Platform(settings) as platform:
        shown = platform.commerce.inventory.show("LP-A")
        by_location = {lv["location_id"]: lv for lv in shown["locations"]}
        assert by_location["DC-KUNSHAN"]["on_hand"] >= 40
        assert shown["channels"]["web"]["listed"] is True
    # Loading the demo's files again changes nothing.
    again = load_demo_inventory(settings, tmp_path / "exports", seed=7)
    assert again["stock"]["applied"] == 0 and again["listings"]["written"] == 0
