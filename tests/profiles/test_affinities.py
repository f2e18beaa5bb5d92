"""Category affinity from purchases: an order's lines are its own source's lines."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa

from omnichannel.identity import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import Warehouse
from tests.profiles.support import AS_OF, add_identities, add_orders, profiles_by_user


def test_two_sources_reusing_an_order_number_keep_their_own_lines(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh:
        add_identities(wh, ["ann", "bob"])
        # Both the web shop and the stores number their orders from 1001.
        add_orders(
            wh,
            [
                {"id": "1001", "user": "ann", "day": 1, "total": 100, "channel": "web"},
                {"id": "1001", "user": "bob", "day": 2, "total": 240, "channel": "store"},
            ],
        )
        wh.append(
            "products",
            pa.table({"product_id": ["TEA", "SHOE"], "category": ["tea", "shoes"]}),
        )
        wh.append(
            "order_lines",
            pa.table(
                {
                    "source": ["web", "store"],
                    "order_id": ["1001", "1001"],
                    "line_number": [1, 1],
                    "product_id": ["TEA", "SHOE"],
                    "quantity": [1, 2],
                    "line_total": [Decimal("100"), Decimal("240")],
                }
            ),
        )
        resolve(wh, full=True)
        build_profiles(wh, as_of=AS_OF)
        rows = profiles_by_user(wh)
    assert rows["ann"]["top_category"] == "tea"
    assert json.loads(rows["ann"]["category_affinity"]) == {"tea": 1.0}
    assert rows["bob"]["top_category"] == "shoes"
    assert json.loads(rows["bob"]["category_affinity"]) == {"shoes": 1.0}
