"""The CLI on the home, then beside a running ``omni serve`` through /api/commerce."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.run import omni_in_process as omni
from tests.commerce.conftest import CUSTOMER, make_home
from tests.support.collector import bearer, running_server, server_token

pytestmark = pytest.mark.slow(seconds=60)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The commerce home with opening hours set around the real clock (the server runs on
    it): Nanjing Road and Xujiahui always open, Pudong opening in two hours."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from omnichannel.config import Settings
    from omnichannel.platform import Platform

    home = tmp_path_factory.mktemp("faces") / "home"
    make_home(home)
    local = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    with Platform(Settings(home=home)) as platform:
        stock = platform.commerce.inventory
        for store in ("st-nanjing", "st-xujiahui"):
            stock.put_location(store, opens=None, closes=None)
        later = [(local + timedelta(hours=h)).strftime("%H:%M") for h in (2, 3)]
        stock.put_location("st-pudong", opens=later[0], closes=later[1])
    return home


def _json(home: Path, *args: str) -> Any:
    return json.loads(omni(*args, "--json", home=home).stdout)


def test_cli_and_api_reserve_route_and_refuse_what_is_not_there(home: Path) -> None:
    # On the home, no server: a hold, the stock it leaves, a refusal naming the count.
    held = _json(
        home, "inventory", "reserve", "LP-B", "2", "--location", "st-nanjing", "--key", "cart-1"
    )
    assert held["status"] == "active" and held["duplicate"] is False
    shown = _json(home, "inventory", "show", "LP-B")
    assert shown["channels"]["web"]["available"] == 1  # Xujiahui's one; Nanjing's are held
    refused = omni(
        "inventory",
        "reserve",
        "LP-B",
        "1",
        "--location",
        "st-nanjing",
        "--key",
        "cart-2",
        home=home,
        check=False,
    )
    assert refused.returncode != 0
    assert "0 available" in refused.stdout + refused.stderr
    assert _json(home, "inventory", "release", "cart-1")["changed"] is True
    assert "st-nanjing" in omni("catalogue", "show", "LP-A", home=home).stdout

    with running_server(home) as server:
        headers = bearer(server_token(server.url))
        api = f"{server.url}/api/commerce"
        body = {"sku": "LP-B", "quantity": 2, "location": "st-nanjing", "key": "web-1"}
        assert (
            httpx.post(f"{api}/inventory/reservations", json=body, headers=headers).status_code
            == 201
        )
        again = httpx.post(
            f"{api}/inventory/reservations", json={**body, "key": "web-2"}, headers=headers
        )
        assert again.status_code == 409
        assert "2 of LP-B cannot be reserved at st-nanjing: 0 available" in again.text
        bad = httpx.post(
            f"{api}/inventory/reservations", json={**body, "quantity": 0}, headers=headers
        )
        assert bad.status_code == 400 and "quantity" in bad.text
        # The CLI beside the server goes through it.
        order = {
            "order_ref": "W-9",
            "channel": "web",
            "lines": [{"sku": "LP-A", "quantity": 1}],
            "fulfilment": "ship",
            "latitude": CUSTOMER[0],
            "longitude": CUSTOMER[1],
        }
        assert httpx.post(f"{api}/orders", json=order, headers=headers).status_code == 201
        text = omni("orders", "route", "W-9", "--explain", home=home).stdout
        assert "ship_from_store from st-nanjing" in text
        assert "closed now" in text and "st-pudong" in text
        assert _json(home, "inventory", "show", "LP-B")["locations"][0]["reserved"] in (0, 2)
        bad_book = httpx.put(
            f"{api}/prices/book", json={"document": "tolerance: 2"}, headers=headers
        )
        assert bad_book.status_code == 400 and "tolerance" in bad_book.text
        book = (
            "promotions:\n"
            "  - {name: a, channels: [web], skus: [LP-A], discount: 0.1,"
            " starts: 2026-01-01, ends: 2026-02-01}\n"
            "  - {name: b, channels: [web], skus: [LP-A], discount: 0.3,"
            " starts: 2026-01-15, ends: 2026-03-01}\n"
        )
        assert (
            httpx.put(f"{api}/prices/book", json={"document": book}, headers=headers).status_code
            == 200
        )
        checked = _json(home, "prices", "check", "--no-notify")
        assert [c["subject"] for c in checked["conflicts"]] == ["promotion_overlap:a:b"]
        stock = home.parent / "receipts.csv"
        stock.write_text(
            "movement_id,occurred_at,location_id,sku,kind,quantity,reference\n"
            "R-1,2026-11-30 09:00:00,st-nanjing,LP-E,receipt,4,truck\n",
            encoding="utf-8",
        )
        loaded = _json(home, "inventory", "load", str(stock), "--source", "pos")
        assert (loaded["applied"], loaded["events"]) == (1, 1)
        again = _json(home, "inventory", "load", str(stock), "--source", "pos")
        assert (again["applied"], again["already_applied"]) == (0, 1)
        listed = _json(home, "inventory", "locations")
        assert {row["location_id"] for row in listed} >= {"st-nanjing", "wh-kunshan"}
