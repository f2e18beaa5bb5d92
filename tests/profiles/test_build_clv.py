"""CLV and P(alive) on profiles: fitted on a BG/NBD-like population, ordered sensibly."""

from __future__ import annotations

from typing import Any

import numpy as np

from omnichannel.identity import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import Warehouse
from tests.profiles.support import AS_OF, add_identities, add_orders, profiles_by_user

WEEKS = 40
START_DAY = 100 - WEEKS * 7  # so the calibration (40 weeks) ends on AS_OF, day 100


def _population(n: int = 300, seed: int = 5) -> list[dict[str, Any]]:
    """Customers buying at Gamma-distributed rates who drop out with Beta probabilities."""
    rng = np.random.default_rng(seed)
    orders: list[dict[str, Any]] = []
    for c in range(n):
        rate = rng.gamma(0.8, 1 / 4.0)  # purchases per week
        drop = rng.beta(1.0, 4.0)
        t = rng.uniform(0, WEEKS * 0.6)
        k = 0
        while t < WEEKS:
            orders.append(_order(f"pop{c}", k, START_DAY + int(t * 7), 80 + 40 * rng.random()))
            k += 1
            if rng.random() < drop:
                break
            t += rng.exponential(1 / max(rate, 1e-3))
    return orders


def _order(user: str, k: int, day: int, total: float) -> dict[str, Any]:
    return {
        "id": f"{user}-{k}",
        "user": user,
        "day": day,
        "total": round(total, 2),
        "channel": "web",
    }


def test_clv_and_p_alive_are_present_and_ordered(warehouse_url: str) -> None:
    orders = _population()
    # Three people to compare: weekly buyer to the end, a lapsed repeat buyer, a one-timer.
    orders += [_order("frequent", k, START_DAY + 7 * k + 3, 100) for k in range(WEEKS)]
    orders += [_order("lapsed", k, START_DAY + 7 * k, 100) for k in range(6)]
    orders += [_order("once", 0, START_DAY + 2, 100)]
    users = sorted({o["user"] for o in orders})
    with Warehouse.open(warehouse_url) as wh:
        add_identities(wh, users)
        add_orders(wh, orders)
        resolve(wh, full=True)
        report = build_profiles(wh, as_of=AS_OF)
        rows = profiles_by_user(wh)
    assert report.clv["error"] is None, report.clv
    assert report.clv["customers"] == len(users)
    p_alive = [r["p_alive"] for r in rows.values()]
    assert all(p is not None and 0.0 <= p <= 1.0 for p in p_alive)
    assert all(r["predicted_clv"] is not None and r["predicted_clv"] >= 0 for r in rows.values())
    frequent, lapsed, once = rows["frequent"], rows["lapsed"], rows["once"]
    assert frequent["p_alive"] > 0.8
    assert lapsed["p_alive"] < 0.5 < frequent["p_alive"]
    assert frequent["predicted_clv"] > 5 * once["predicted_clv"]
    assert frequent["expected_purchases"] > lapsed["expected_purchases"]
    # The default "lapsing" tag: a repeat buyer with P(alive) < 0.5.
    assert "lapsing" in lapsed["tags"] and "lapsing" not in frequent["tags"]
    assert "lapsing" not in once["tags"]
