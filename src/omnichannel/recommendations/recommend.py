"""One person's recommendations for a slot: scores, business rules, diversity, reasons.

The model in use scores every item from the person's current row (trained interactions
plus those that arrived since, ``live.py``). Someone with fewer interactions than
``cold_start_below`` is matched on content instead (``content.py``). Then, in order:

1. rules: what they bought is left out unless the item is replenishable (the product's
   ``attributes.replenishable``, else its category is in ``replenishable_categories``);
   what they viewed is left out where the slot says ``exclude_viewed``; only items in stock
   (``attributes.in_stock``; the warehouse has no inventory, so without that attribute every
   product counts as in stock and the answer says so);
2. diversity: best first, at most ``max_per_category`` items of one category;
3. a reason per item: "bought together with X" (an association rule X -> it of the
   baskets, ``rules.py``, X one of their purchases), "people who bought X also bought it",
   "similar to Y you viewed" (Y the item of theirs that weighs most in its score),
   "popular in Z", or the content term that put it there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from omnichannel.recommendations.config import RecommendationsConfig, Slot
from omnichannel.recommendations.model import Recommender


@dataclass
class PersonState:
    """A person's row now: as trained plus what arrived since (``changed`` if any)."""

    row: sp.csr_matrix
    purchased: set[int]
    viewed: set[int]
    content_types: np.ndarray | None
    changed: bool


def recommend(
    model: Recommender,
    profile_id: str,
    state: PersonState,
    slot: Slot,
    config: RecommendationsConfig,
    *,
    k: int | None = None,
) -> dict[str, Any]:
    """The slot's items for one person, each with its score and reason."""
    wanted = k or slot.k
    cold = state.row.nnz < config.cold_start_below or model.algorithm == "content"
    if cold:
        terms = model.content.terms(
            profile_id, state.row, model.item_category, model.popularity, state.content_types
        )
        scores = np.asarray(sum(terms.values()), dtype=np.float64)
        strategy = "content"
    else:
        scores = model.scores(profile_id, state.row, changed=state.changed)
        terms = {}
        strategy = model.algorithm
    allowed = _allowed(model, state, slot)
    chosen = _diverse(scores, allowed, model.item_category, wanted, slot.max_per_category)
    items = []
    for i in chosen:
        reason, because = (
            _content_reason(model, terms, i, profile_id) if cold else _reason(model, state, i)
        )
        items.append(
            {
                "product_id": model.items[i],
                "name": model.item_names[i],
                "category": model.categories[model.item_category[i]],
                "score": round(float(scores[i]), 6),
                "reason": reason,
                "because_of": because,
            }
        )
    return {
        "slot": slot.name,
        "k": wanted,
        "strategy": strategy,
        "stock": "products.attributes.in_stock"
        if model.stock_known
        else "no stock data: every product counts as in stock",
        "items": items,
    }


def _allowed(model: Recommender, state: PersonState, slot: Slot) -> np.ndarray:
    allowed = np.ones(len(model.items), bool)
    if slot.exclude_purchased and state.purchased:
        bought = np.fromiter(state.purchased, np.int64)
        allowed[bought[~model.replenishable[bought]]] = False
    if slot.exclude_viewed and state.viewed:
        allowed[np.fromiter(state.viewed, np.int64)] = False
    if slot.in_stock_only:
        allowed &= model.in_stock
    return allowed


def _diverse(
    scores: np.ndarray, allowed: np.ndarray, category: np.ndarray, k: int, cap: int | None
) -> list[int]:
    """Best first, at most ``cap`` per category (ties: the lower item index)."""
    masked = np.where(allowed, scores, -np.inf)
    # The best few hundred are enough unless the cap skips most of them; else all.
    wanted = min(len(scores), max(20 * k, 200))
    candidates = np.argpartition(-masked, wanted - 1)[:wanted] if wanted < len(scores) else None
    chosen = _take(masked, candidates, category, k, cap)
    if len(chosen) < k and candidates is not None:
        chosen = _take(masked, None, category, k, cap)
    return chosen


def _take(
    masked: np.ndarray, candidates: np.ndarray | None, category: np.ndarray, k: int, cap: int | None
) -> list[int]:
    pool = np.arange(len(masked)) if candidates is None else candidates
    order = pool[np.lexsort((pool, -masked[pool]))]
    taken: dict[int, int] = {}
    chosen: list[int] = []
    for i in order:
        if masked[i] == -np.inf:
            break
        c = int(category[i])
        if cap is not None and taken.get(c, 0) >= cap:
            continue
        taken[c] = taken.get(c, 0) + 1
        chosen.append(int(i))
        if len(chosen) == k:
            break
    return chosen


def _reason(model: Recommender, state: PersonState, item: int) -> tuple[str, str | None]:
    row = state.row
    if item in state.viewed and item not in state.purchased:
        return "you viewed it", model.items[item]
    if row.nnz:
        owned = row.indices
        bought = [int(j) for j in owned if j in state.purchased] or sorted(state.purchased)
        rules = [(model.rule_pairs[(j, item)], j) for j in bought if (j, item) in model.rule_pairs]
        if rules:
            _, j = max(rules)  # the strongest lift
            return f"bought together with {model.item_names[j]}", model.items[j]
        if bought:
            buyers, together = model.row_of("co_purchase", item)
            mine = np.isin(buyers, bought)
            if mine.any():
                j = int(buyers[mine][int(np.argmax(together[mine]))])
                return f"people who bought {model.item_names[j]} also bought it", model.items[j]
        sources, similarity = model.row_of("similarity_t", item)
        mine = np.isin(sources, owned)
        if mine.any():
            order = np.argsort(owned, kind="stable")
            at = order[np.searchsorted(owned, sources[mine], sorter=order)]
            weights = similarity[mine] * row.data[at]
            best = int(np.argmax(weights))  # sources are sorted: ties go to the lower item
            if weights[best] > 0:
                j = int(sources[mine][best])
                verb = "bought" if j in state.purchased else "viewed"
                return f"similar to {model.item_names[j]} you {verb}", model.items[j]
    return f"popular in {model.categories[model.item_category[item]]}", None


_CONTENT_REASONS = {
    "reviews": "many reviews, and you read reviews",
    "gallery": "a strong photo gallery, and you look at photos",
    "popular": "popular in {category}",
}


def _content_reason(
    model: Recommender, terms: dict[str, np.ndarray], item: int, profile_id: str
) -> tuple[str, str | None]:
    category = model.categories[model.item_category[item]]
    if not terms:
        return f"popular in {category}", None
    best = max(terms, key=lambda name: float(terms[name][item]))
    if best == "category":
        return f"matches your interest in {category}", None
    if best == "local":
        city = model.content.person(profile_id)[2]
        return f"popular in the stores of {city}", None
    return _CONTENT_REASONS[best].format(category=category), None
