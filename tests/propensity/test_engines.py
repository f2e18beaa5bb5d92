"""The propensity features and labels of one known person, on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from omnichannel.identity.rules import load_rules
from omnichannel.profiles.traits.base import scratch
from omnichannel.propensity.features import features_at, labels_at, read_facts
from omnichannel.warehouse.store import open_warehouse

pytestmark = pytest.mark.slow(seconds=4)

CUTOFF = datetime(2026, 6, 1)


def _at(day: int, month: int = 5) -> datetime:
    return datetime(2026, month, day, 12, 0)


def test_a_known_history_gives_known_features_and_labels(warehouse_url: str) -> None:
    orders = [("o1", "web", _at(2, 3)), ("o2", "store", _at(20)), ("o3", "web", _at(10, 6))]
    events = [
        ("page", None, _at(21)),
        ("track", "Product Added", _at(25)),
        ("track", "Product Viewed", _at(25)),
        ("track", "Email Opened", _at(26)),
        ("page", None, _at(3, 6)),  # after the cut-off: a label, not a feature
    ]
    with open_warehouse(warehouse_url) as wh:
        wh.append(
            "orders",
            {
                "order_id": [o[0] for o in orders],
                "source": ["shop"] * 3,
                "channel": [o[1] for o in orders],
                "ordered_at": [o[2] for o in orders],
                "total": [100.0, 300.0, 50.0],
                "status": ["paid"] * 3,
            },
        )
        wh.append(
            "record_profiles",
            {"source": ["shop"] * 3, "record_id": [o[0] for o in orders], "profile_id": ["p1"] * 3},
        )
        wh.append(
            "profile_identifiers",
            {
                "profile_id": ["p1"],
                "id_type": ["user_id"],
                "id_value": ["u1"],
                "status": ["linked"],
            },
        )
        wh.append(
            "events",
            {
                "message_id": [f"m{i}" for i in range(len(events))],
                "source": ["web"] * len(events),
                "channel": ["web"] * len(events),
                "type": [e[0] for e in events],
                "event": [e[1] for e in events],
                "user_id": ["u1"] * len(events),
                "timestamp": [e[2] for e in events],
            },
        )
        tmp = scratch(wh)
        try:
            facts = read_facts(wh, load_rules(), tmp)
            row = features_at(facts, CUTOFF).loc["p1"]
            labels = labels_at(facts, CUTOFF, 30).loc["p1"]
        finally:
            tmp.close()
    assert (
        row["orders"] == 2 and row["orders_90d"] == 1 and row["revenue"] == 400
    )  # March 2: 91 days
    assert row["store_share"] == 0.5 and row["average_order_value"] == 200
    assert row["days_since_order"] == pytest.approx(11.5)  # May 20 noon to June 1
    assert row["days_since_visit"] == pytest.approx(6.5)  # the cart on May 25, noon
    assert row["carts_30d"] == 1 and row["views_30d"] == 1 and row["visit_days_30d"] == 2
    assert row["email_opens_90d"] == 1
    assert row["tenure_days"] == pytest.approx(90.5)  # the first order, March 2
    assert labels["bought"] == 1 and labels["active"] == 1
