"""The kept available units per SKU and location kind equal the sum over the levels,
after any mix of writes, on SQLite and PostgreSQL.

Available-to-promise reads ``stock_available``, which the store's triggers keep. The check
is against the levels summed by hand, after each of these: receipts, sales, counts,
reservations granted, released, fulfilled and expired, safety stock, a location changing
kind, a location deleted with its levels, and bare SQL writes that bypass our code.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from omnichannel.commerce.inventory import Inventory, Movement, NotAvailableError
from omnichannel.errors import ValidationError
from omnichannel.opstore import OpStore, open_opstore
from tests.commerce.conftest import store_url

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
BY_HAND = """
SELECT l.sku, p.kind,
       SUM(CASE WHEN l.on_hand - l.reserved - l.safety_stock > 0
                THEN l.on_hand - l.reserved - l.safety_stock ELSE 0 END)
FROM stock_levels l JOIN stock_locations p ON p.location_id = l.location_id
GROUP BY l.sku, p.kind
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpStore]:
    url = store_url(request, tmp_path_factory)
    with open_opstore(url) as opened:
        yield opened


def by_hand(store: OpStore) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with store.engine.connect() as con:
        for sku, kind, units in con.execute(text(BY_HAND)):
            out.setdefault(sku, {})[kind] = int(units)
    return out


def test_the_kept_sums_follow_every_kind_of_write(store: OpStore) -> None:
    clock = [T0]
    stock = Inventory(store, clock=lambda: clock[0])
    places = {"w1": "warehouse", "w2": "warehouse", "s1": "store", "s2": "store", "t1": "transit"}
    for place, kind in places.items():
        stock.put_location(place, kind=kind, name=place)
    skus = [f"S{i}" for i in range(6)]
    rng = random.Random(11)
    held: list[str] = []
    for n in range(240):
        place, sku = rng.choice(sorted(places)), rng.choice(skus)
        action = rng.choice(["receipt", "sale", "count", "reserve", "reserve", "finish", "safety"])
        try:
            if action in ("receipt", "sale", "count"):
                q = rng.randrange(1, 12)
                stock.apply([Movement(f"m{n}", place, sku, action, q, occurred_at=clock[0])])
            elif action == "reserve":
                ttl = timedelta(minutes=rng.choice([1, 30]))
                stock.reserve(sku, rng.randrange(1, 4), location=place, key=f"r{n}", ttl=ttl)
                held.append(f"r{n}")
            elif action == "finish" and held:
                key = held.pop(rng.randrange(len(held)))
                stock.fulfil(key) if rng.random() < 0.5 else stock.release(key)
            elif action == "safety":
                stock.set_safety_stock(place, sku, rng.randrange(0, 5))
        except (NotAvailableError, ValidationError):
            pass  # refused writes change nothing, and the sums must say so too
        if n % 40 == 39:
            clock[0] += timedelta(minutes=5)
            stock.expire_due()
        if n == 120:  # a store becomes a warehouse: its units count toward the other kind
            stock.put_location("s2", kind="warehouse")
            places["s2"] = "warehouse"
        assert stock.available_by_kind() == by_hand(store), f"after step {n} ({action})"
    with store.engine.begin() as con:  # writes that bypass our code entirely
        con.execute(text("UPDATE stock_levels SET on_hand = on_hand + 7 WHERE sku = 'S1'"))
        con.execute(
            text(
                "INSERT INTO stock_levels (location_id, sku, on_hand, reserved, safety_stock,"
                " updated_at) VALUES ('t1', 'NEW', 9, 2, 1, :now)"
            ),
            {"now": T0},
        )
        con.execute(text("UPDATE stock_levels SET location_id = 's1' WHERE sku = 'NEW'"))
    assert stock.available_by_kind() == by_hand(store)
    assert stock.available_by_kind()["NEW"] == {"store": 6}
    with store.engine.begin() as con:  # a location goes, and its levels with it (cascade)
        con.execute(text("DELETE FROM stock_locations WHERE location_id = 'w1'"))
        left = con.execute(text("SELECT count(*) FROM stock_levels WHERE location_id = 'w1'"))
        assert left.scalar_one() == 0
    assert stock.available_by_kind() == by_hand(store)
    assert stock.available_by_kind(["S1", "NEW"]) == {
        k: v for k, v in by_hand(store).items() if k in ("S1", "NEW")
    }
