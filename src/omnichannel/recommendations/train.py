"""Read what a recommender learns from once, then fit any algorithm on it.

``read_training_data`` runs the warehouse reads (interactions, catalogue, content views,
store sales, reads and cities); ``fit_recommender`` builds the matrices and fits one
algorithm. Evaluation (``evaluate.py``) reads once before a cut-off and fits every
algorithm on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from omnichannel.errors import ValidationError
from omnichannel.identity.rules import IdentityRules
from omnichannel.recommendations import interactions as reads
from omnichannel.recommendations.config import ALGORITHMS, RecommendationsConfig
from omnichannel.recommendations.content import build_content
from omnichannel.recommendations.model import (
    Recommender,
    build_matrices,
    fit_estimator,
    item_neighbours,
    popularity_of,
)
from omnichannel.recommendations.rules import mine_rules, pair_lifts, read_baskets
from omnichannel.warehouse import Warehouse


@dataclass
class TrainingData:
    """Everything a fit reads from the warehouse, before ``until`` (all when None)."""

    interactions: pa.Table
    catalogue: pa.Table
    content_views: pa.Table
    store_sales: pa.Table
    content_reads: pa.Table
    cities: pa.Table
    until: datetime | None
    # One row per product per order (``rules.read_baskets``); None: no rules mined.
    baskets: pa.Table | None = None

    @property
    def latest(self) -> datetime | None:
        """The newest interaction's time (the end of the data)."""
        if self.interactions.num_rows == 0:
            return None
        value = pc.max(self.interactions.column("at")).as_py()
        return value if isinstance(value, datetime) else None


def read_training_data(
    wh: Warehouse, rules: IdentityRules, *, until: datetime | None = None
) -> TrainingData:
    return TrainingData(
        interactions=reads.read_interactions(wh, rules, until=until),
        catalogue=reads.read_catalogue(wh),
        content_views=reads.content_views(wh, rules),
        store_sales=reads.store_sales(wh),
        content_reads=reads.content_reads(wh, rules, until=until),
        cities=reads.profile_cities(wh),
        until=until,
        baskets=read_baskets(wh),
    )


def check_algorithm(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise ValidationError("algorithm", algorithm, "one of " + ", ".join(ALGORITHMS))
    return algorithm


def fit_recommender(
    data: TrainingData, config: RecommendationsConfig, algorithm: str
) -> Recommender:
    """One algorithm fitted on ``data`` with the weights and parameters of ``config``."""
    check_algorithm(algorithm)
    catalogue = data.catalogue
    items = [str(p) for p in catalogue.column("product_id").to_pylist()]
    category_names = [c or "(none)" for c in catalogue.column("category").to_pylist()]
    categories = sorted(set(category_names))
    category_of = {c: k for k, c in enumerate(categories)}
    item_category = np.array([category_of[c] for c in category_names], np.int64)
    people, confidence, purchased, viewed = build_matrices(data.interactions, items, config.weights)
    params: dict[str, Any] = {
        "factors": config.factors,
        "iterations": config.iterations,
        "regularization": config.regularization,
        "weights": dict(config.weights),
    }
    estimator = fit_estimator(algorithm, confidence, params)
    bought = (purchased > 0).astype(np.float32)
    co_purchase = (bought.T @ bought).tocsr()
    co_purchase.setdiag(0)
    co_purchase.eliminate_zeros()
    flags = catalogue.column("replenishable_flag").to_pylist()
    replenishable = np.array(
        [
            bool(flag) if flag is not None else name in config.replenishable_categories
            for flag, name in zip(flags, category_names, strict=True)
        ]
    )
    stock = catalogue.column("in_stock_flag").to_pylist()
    stock_known = any(s is not None for s in stock)
    in_stock = np.array([s is not False for s in stock])
    rules, rules_summary = (
        mine_rules(data.baskets) if data.baskets is not None else ([], {"baskets": 0})
    )
    content = build_content(
        catalogue,
        data.content_views,
        data.store_sales,
        data.content_reads,
        data.cities,
        categories,
    )
    return Recommender(
        algorithm=algorithm,
        params=params,
        items=items,
        item_names=[str(n) for n in catalogue.column("name").to_pylist()],
        item_category=item_category,
        categories=categories,
        people=people,
        confidence=confidence,
        purchased=purchased,
        viewed=viewed,
        popularity=popularity_of(confidence),
        similarity=item_neighbours(confidence) if confidence.nnz else _empty(len(items)),
        co_purchase=co_purchase,
        replenishable=replenishable,
        in_stock=in_stock,
        stock_known=stock_known,
        content=content,
        rules=rules,
        rules_summary=rules_summary,
        rule_pairs=pair_lifts(rules, items),
        trained_until=data.until or data.latest,
        user_factors=_array(getattr(estimator, "user_factors", None)),
        item_factors=_array(getattr(estimator, "item_factors", None)),
        estimator=estimator,
    )


def _array(value: Any) -> np.ndarray | None:
    return None if value is None else np.asarray(value)


def _empty(n: int) -> sp.csr_matrix:
    return sp.csr_matrix((n, n), dtype=np.float32)
