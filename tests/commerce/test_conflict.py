"""Channel conflict on a small planted history: which store each online order is credited
to and why, whether a campaign's messages brought people into the stores, and what a
marketplace promotion took from the web shop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.config import Settings
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.platform import Platform
from tests.commerce.conftest import CUSTOMER, NOW

D = datetime
# (order, source, channel, store, person, when, total): store orders make home stores
# (p1 Nanjing Road 3 of 4, p2 Hangzhou), online ones are credited to them.
ORDERS = [
    ("o1", "pos", "store", "st-nanjing", "p1", D(2026, 11, 1), 100),
    ("o2", "pos", "store", "st-nanjing", "p1", D(2026, 11, 2), 100),
    ("o3", "pos", "store", "st-nanjing", "p1", D(2026, 11, 3), 100),
    ("o4", "pos", "store", "st-hangzhou", "p1", D(2026, 11, 4), 100),
    ("o5", "pos", "store", "st-hangzhou", "p2", D(2026, 10, 20), 50),
    ("o6", "pos", "store", "st-nanjing", "p4", D(2026, 11, 12), 80),
    ("o7", "pos", "store", "st-hangzhou", "p5", D(2026, 11, 15), 80),
    ("o8", "pos", "store", "st-nanjing", "p6", D(2026, 11, 5), 80),
    ("w1", "web", "web", None, "p1", D(2026, 11, 6), 40),
    ("w2", "web", "web", None, "p1", D(2026, 11, 7), 40),
    ("w3", "web", "app", None, "p2", D(2026, 11, 8), 30),
    ("w4", "web", "web", None, "p3", D(2026, 11, 9), 20),
]
# LP-B's units per day, 6-9 October before the promotion, 10-13 during it.
MARKETPLACE_UNITS = [1, 1, 2, 1, 4, 3, 4, 3]
WEB_UNITS = [4, 5, 4, 5, 3, 2, 3, 2]


@pytest.fixture(scope="module")
def history(commerce_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    home = tmp_path_factory.mktemp("conflict") / "home"
    shutil.copytree(commerce_home, home)
    orders, lines = list(ORDERS), []
    for channel, units in (("marketplace", MARKETPLACE_UNITS), ("web", WEB_UNITS)):
        for day, n in enumerate(units):
            ref = f"c-{channel}-{day}"
            orders.append((ref, "mp", channel, None, None, D(2026, 10, 6 + day, 12), n * 10))
            lines.append(("mp", ref, 1, "LP-B", n))
    orders.append(("c-other", "mp", "marketplace", None, None, D(2026, 10, 11), 500))
    lines.append(("mp", "c-other", 1, "LP-A", 50))  # another SKU: not the promotion's
    with Platform(Settings(home=home)) as platform:
        with platform.warehouse.writer() as wh:
            wh.append(
                "stores",
                pa.table(
                    {
                        "store_id": ["st-nanjing", "st-hangzhou"],
                        "name": ["Nanjing Road", "Hangzhou Mall"],
                        "latitude": [31.235, 30.27],
                        "longitude": [121.475, 120.15],
                    }
                ),
            )
            wh.append(
                "orders",
                pa.table(
                    {
                        "order_id": [o[0] for o in orders],
                        "source": [o[1] for o in orders],
                        "channel": [o[2] for o in orders],
                        "store_id": [o[3] for o in orders],
                        "ordered_at": [o[5] for o in orders],
                        "total": pa.array([Decimal(o[6]) for o in orders], pa.decimal128(18, 2)),
                    }
                ),
            )
            wh.append(
                "order_lines",
                pa.table(
                    {
                        "source": [x[0] for x in lines],
                        "order_id": [x[1] for x in lines],
                        "line_number": pa.array([x[2] for x in lines], pa.int32()),
                        "sku": [x[3] for x in lines],
                        "quantity": pa.array([x[4] for x in lines], pa.int32()),
                    }
                ),
            )
            people = [o for o in orders if o[4] is not None]
            wh.append(
                "record_profiles",
                pa.table(
                    {
                        "source": [o[1] for o in people],
                        "record_id": [o[0] for o in people],
                        "profile_id": [o[4] for o in people],
                    }
                ),
            )
            sent = ["p1", "p2", "p4", "p5"]
            wh.append(
                "deliveries",
                pa.table(
                    {
                        "delivery_id": [f"d-{p}" for p in sent],
                        "channel": ["email"] * len(sent),
                        "campaign_id": ["CMP-1"] * len(sent),
                        "profile_id": sent,
                        "sent_at": [D(2026, 11, 10, 9)] * len(sent),
                    }
                ),
            )
        platform.commerce.clock = lambda: NOW
        line = [{"sku": "LP-A", "quantity": 1}]
        orders_ = platform.commerce.orders
        orders_.create("C1", channel="web", lines=line, fulfilment="pickup",
                       pickup_location="st-nanjing")  # fmt: skip
        orders_.create("C2", channel="app", lines=line, fulfilment="ship",
                       latitude=CUSTOMER[0], longitude=CUSTOMER[1])  # fmt: skip
        orders_.create("C3", channel="web", lines=line, fulfilment="ship",
                       latitude=39.9, longitude=116.4)  # Beijing: no store near  # fmt: skip
        platform.commerce.prices.save(
            {
                "promotions": [
                    {
                        "name": "oct-deal",
                        "channels": ["tmall", "jd"],
                        "skus": ["LP-B"],
                        "discount": 0.2,
                        "starts": "2026-10-10",
                        "ends": "2026-10-14",
                    }
                ]
            }
        )
    return home


@pytest.fixture
def conflict(history: Path) -> Iterator[Platform]:
    with Platform(Settings(home=history)) as platform:
        yield platform


def test_online_orders_are_credited_to_the_pickup_store_the_nearby_store_or_the_buyers_store(
    conflict: Platform,
) -> None:
    seen = conflict.commerce.conflict.catchment(since=date(2026, 10, 15))
    assert seen["online_orders"] == 7  # four in the warehouse, three in the order table
    assert seen["credited_orders"] == 5 and seen["unattributed_orders"] == 2
    nanjing, hangzhou = seen["stores"]
    assert nanjing["store_id"] == "st-nanjing"
    assert nanjing["store_orders"] == 5 and nanjing["store_revenue"] == 460.0
    assert nanjing["credited_orders"] == 4 and nanjing["credited_revenue"] == 80.0
    assert nanjing["by"] == {"home_store": 2, "pickup": 1, "nearby": 1}
    assert nanjing["credit_share"] == round(4 / 9, 4)
    assert hangzhou["store_orders"] == 3 and hangzhou["credited_orders"] == 1
    assert hangzhou["by"] == {"home_store": 1}
    # A radius too small for the shipped order's 0.1 km leaves it unattributed.
    tight = conflict.commerce.conflict.catchment(since=date(2026, 10, 15), radius_km=0.01)
    assert tight["stores"][0]["by"].get("nearby") is None


def test_a_campaign_that_sent_people_into_stores_shows_a_lift_over_everyone_else(
    conflict: Platform,
) -> None:
    seen = conflict.commerce.conflict.online_to_offline("CMP-1", window_days=14)
    exposed, others = seen["exposed"], seen["others"]
    assert (exposed["people"], exposed["store_buyers_after"], exposed["store_buyers_before"]) == (
        4,
        2,
        1,
    )
    assert (others["people"], others["store_buyers_after"], others["store_buyers_before"]) == (
        2,
        0,
        1,
    )
    assert seen["lift"] == 0.75  # (2/4 - 1/4) - (0/2 - 1/2)
    assert seen["store_buyers_gained"] == 1
    assert seen["p_value"] is not None and 0 < seen["p_value"] < 1
    with pytest.raises(NotFoundError, match="CMP-404"):
        conflict.commerce.conflict.online_to_offline("CMP-404")
    with pytest.raises(ValidationError, match="window_days"):
        conflict.commerce.conflict.online_to_offline("CMP-1", window_days=0)


def test_a_marketplace_promotion_that_took_web_sales_is_found_cannibalising(
    conflict: Platform,
) -> None:
    seen = conflict.commerce.conflict.cannibalisation("oct-deal")
    assert seen["baseline_from"] == "2026-10-06"
    assert seen["promoted"]["units_before"] == 5 and seen["promoted"]["units_during"] == 14
    assert seen["other"]["units_before"] == 18 and seen["other"]["units_during"] == 10
    assert seen["cannibalised_units"] == 8 and seen["cannibalised_share"] == round(8 / 9, 4)
    assert seen["other"]["p_value"] < 0.05 and seen["cannibalised"] is True
    with pytest.raises(NotFoundError, match="oct-deal"):
        conflict.commerce.conflict.cannibalisation("no-such")


@pytest.mark.slow(seconds=20)
def test_cli_and_api_give_the_same_analyses_and_name_bad_input(history: Path) -> None:
    import json

    import httpx

    from tests.cli.run import omni_in_process as omni
    from tests.support.collector import bearer, running_server, server_token

    local = json.loads(
        omni("conflict", "catchment", "--since", "2026-10-15", "--json", home=history).stdout
    )
    assert local["credited_orders"] == 5
    assert "Nanjing Road" in omni("conflict", "catchment", home=history).stdout
    with running_server(history) as server:
        headers = bearer(server_token(server.url))
        api = f"{server.url}/api/commerce/conflict"
        remote = httpx.get(f"{api}/catchment", params={"since": "2026-10-15"}, headers=headers)
        assert remote.status_code == 200 and remote.json() == local
        lifted = httpx.get(f"{api}/o2o/CMP-1", headers=headers).json()
        assert lifted["lift"] == 0.75
        bad = httpx.get(f"{api}/o2o/CMP-1", params={"window_days": 0}, headers=headers)
        assert bad.status_code in (400, 422) and "window_days" in bad.text
        missing = httpx.get(f"{api}/o2o/CMP-404", headers=headers)
        assert missing.status_code == 404 and "CMP-404" in missing.text
        # The CLI beside the server goes through it.
        text = omni("conflict", "cannibalisation", "oct-deal", home=history).stdout
        assert "cannibalised: 8 units" in text
