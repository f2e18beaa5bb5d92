"""Association rules: "bought X, also buy Y", mined with FP-growth over every basket.

A basket is one order, online or in a store (``orders`` and ``order_lines``, void orders
left out), as the set of products on it. ``mlxtend``'s FP-growth finds the item sets
bought together in at least ``min_support`` of baskets (and at least ``min_count`` of
them, so a small shop's one-off pair is not a rule), then ``association_rules`` gives each
rule its support, confidence (P(Y | X)) and lift (confidence over Y's own share: above 1,
X makes Y likelier). Rules with one product on each side feed the recommendations'
"bought together with X" reason; every rule is listed by ``omni recs rules`` and
``GET /api/recommendations/rules``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from omnichannel.profiles.traits.base import VOID_ORDER_STATUSES
from omnichannel.warehouse import Warehouse

MIN_SUPPORT = 0.0005
MIN_COUNT = 3
MIN_LIFT = 1.0
MAX_LEN = 3


@dataclass(frozen=True)
class Rule:
    antecedents: tuple[str, ...]
    consequents: tuple[str, ...]
    support: float
    confidence: float
    lift: float
    baskets: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "antecedents": list(self.antecedents),
            "consequents": list(self.consequents),
            "support": self.support,
            "confidence": self.confidence,
            "lift": self.lift,
            "baskets": self.baskets,
        }


def read_baskets(wh: Warehouse) -> pa.Table:
    """``source, order_id, product_id, channel``: one row per product per non-void order."""
    o = wh.table("orders")
    valid = o.filter(o.status.isnull() | ~o.status.lower().isin(VOID_ORDER_STATUSES))
    lines = wh.table("order_lines").select("source", "order_id", "product_id")
    joined = valid.select("source", "order_id", "channel").join(lines, ["source", "order_id"])
    joined = joined.filter(joined.product_id.notnull())
    return joined.distinct().to_pyarrow()


def mine_rules(
    baskets: pa.Table,
    *,
    min_support: float = MIN_SUPPORT,
    min_count: int = MIN_COUNT,
    min_lift: float = MIN_LIFT,
) -> tuple[list[Rule], dict[str, Any]]:
    """The rules of ``baskets`` (strongest lift first) and a summary of what was mined."""
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    keys = [
        f"{s}\x1f{o}"
        for s, o in zip(
            baskets.column("source").to_pylist(),
            baskets.column("order_id").to_pylist(),
            strict=True,
        )
    ]
    products = baskets.column("product_id").to_pylist()
    basket_index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    item_names = sorted(set(products))
    item_index = {p: i for i, p in enumerate(item_names)}
    n = len(basket_index)
    summary: dict[str, Any] = {"baskets": n, "products": len(item_names), "rules": 0}
    if n == 0:
        return [], summary
    rows = np.fromiter((basket_index[k] for k in keys), np.int64, len(keys))
    cols = np.fromiter((item_index[p] for p in products), np.int64, len(products))
    # Sparse: a shop's baskets x catalogue is mostly empty (FP-growth reads it as such).
    matrix = sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(n, len(item_names)))
    summary["baskets_with_two_or_more"] = int((np.diff(matrix.indptr) > 1).sum())
    support = max(min_support, min_count / n)
    summary["min_support"] = support
    with warnings.catch_warnings():
        # pandas warns about the fill value of a boolean sparse frame; False is meant.
        warnings.simplefilter("ignore", FutureWarning)
        frame = pd.DataFrame.sparse.from_spmatrix(  # type: ignore[attr-defined]
            matrix, columns=item_names
        )
    itemsets = fpgrowth(frame, min_support=support, use_colnames=True, max_len=MAX_LEN)
    if itemsets.empty or (itemsets["itemsets"].map(len) > 1).sum() == 0:
        return [], summary
    found = association_rules(itemsets, num_itemsets=n, metric="lift", min_threshold=min_lift)
    rules = [
        Rule(
            antecedents=tuple(sorted(row.antecedents)),
            consequents=tuple(sorted(row.consequents)),
            support=float(row.support),
            confidence=float(row.confidence),
            lift=float(row.lift),
            baskets=round(float(row.support) * n),
        )
        for row in found.itertuples()
    ]
    rules.sort(key=lambda r: (-r.lift, -r.confidence, r.antecedents, r.consequents))
    summary["rules"] = len(rules)
    return rules, summary


def pair_lifts(rules: list[Rule], items: list[str]) -> dict[tuple[int, int], tuple[float, float]]:
    """``(antecedent item, consequent item) -> (lift, confidence)`` of one-to-one rules."""
    index = {item: i for i, item in enumerate(items)}
    pairs: dict[tuple[int, int], tuple[float, float]] = {}
    for rule in rules:
        if len(rule.antecedents) == len(rule.consequents) == 1:
            a, c = index.get(rule.antecedents[0]), index.get(rule.consequents[0])
            if a is not None and c is not None:
                pairs[(a, c)] = (rule.lift, rule.confidence)
    return pairs
