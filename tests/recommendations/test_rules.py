"""Association rules over baskets: FP-growth's support, confidence and lift, by hand."""

from __future__ import annotations

import pyarrow as pa
import pytest

from omnichannel.recommendations.rules import mine_rules


def _baskets(orders: dict[str, list[str]]) -> pa.Table:
    rows = [(order, item) for order, items in orders.items() for item in items]
    return pa.table(
        {
            "source": ["pos" if o.startswith("S") else "web" for o, _ in rows],
            "order_id": [o for o, _ in rows],
            "product_id": [i for _, i in rows],
            "channel": ["store" if o.startswith("S") else "web" for o, _ in rows],
        }
    )


def test_tea_and_cups_bought_together_online_and_in_store_make_a_rule() -> None:
    # 10 baskets: tea+cups in 4 (2 web, 2 store), tea alone in 2, cups alone in 1, others 3.
    orders = {
        "W1": ["tea", "cups"],
        "W2": ["tea", "cups", "scarf"],
        "S1": ["tea", "cups"],
        "S2": ["cups", "tea"],
        "W3": ["tea"],
        "S3": ["tea"],
        "W4": ["cups"],
        "W5": ["scarf"],
        "S4": ["boots"],
        "W6": ["boots", "scarf"],
    }
    rules, summary = mine_rules(_baskets(orders), min_support=0.2, min_count=3, min_lift=1.0)
    by_pair = {(r.antecedents, r.consequents): r for r in rules}
    tea_cups = by_pair[(("tea",), ("cups",))]
    assert summary["baskets"] == 10 and summary["baskets_with_two_or_more"] == 5
    assert tea_cups.support == pytest.approx(0.4) and tea_cups.baskets == 4
    assert tea_cups.confidence == pytest.approx(4 / 6)  # 4 of the 6 tea baskets
    assert tea_cups.lift == pytest.approx((4 / 6) / (5 / 10))  # cups in 5 of 10
    # scarf+boots (1 basket) is under the minimum count: no rule mentions boots.
    assert not [r for r in rules if "boots" in r.antecedents + r.consequents]


def test_no_baskets_or_no_pairs_give_no_rules() -> None:
    empty = _baskets({})
    assert mine_rules(empty) == ([], {"baskets": 0, "products": 0, "rules": 0})
    singles = _baskets({"W1": ["tea"], "W2": ["cups"], "W3": ["tea"]})
    assert mine_rules(singles, min_support=0.1, min_count=1)[0] == []
