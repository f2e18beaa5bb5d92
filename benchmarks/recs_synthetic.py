"""Synthetic interactions for the recommendation benchmarks (shared by ``recs_*.py``).

``people`` people and ``items`` products in 8 categories; each person has a favourite
category and draws ``per_person`` interactions on average (Poisson), 70 % in that
category, item popularity Zipf-like within a category, kinds 80 % views, 12 % adds,
8 % purchases. Deterministic for a seed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from omnichannel.recommendations.train import TrainingData

CATEGORIES = 8


def training_data(
    interactions: int = 1_000_000, people: int = 100_000, items: int = 10_000, seed: int = 7
) -> TrainingData:
    rng = np.random.default_rng(seed)
    per_category = items // CATEGORIES
    favourite = rng.integers(0, CATEGORIES, people)
    person = rng.integers(0, people, interactions)
    own = rng.random(interactions) < 0.7
    category = np.where(own, favourite[person], rng.integers(0, CATEGORIES, interactions))
    rank = np.minimum(rng.zipf(1.3, interactions) - 1, per_category - 1)
    item = category * per_category + rank
    kind = rng.choice(
        np.array(["view", "add_to_cart", "purchase"]), interactions, p=[0.8, 0.12, 0.08]
    )
    start = np.datetime64(datetime(2026, 1, 1), "us")
    at = start + (rng.random(interactions) * 180 * 86_400e6).astype("timedelta64[us]")
    order = np.argsort(at, kind="stable")
    product_ids = np.array([f"PRD-{i:06d}" for i in range(items)])
    table = pa.table(
        {
            "profile_id": pa.array(np.char.add("p_", person.astype(str))[order]),
            "product_id": pa.array(product_ids[item][order]),
            "kind": pa.array(kind[order]),
            "at": pa.array(at[order]),
            "channel": pa.array(np.where(rng.random(interactions) < 0.2, "store", "web")[order]),
        }
    )
    n = len(product_ids)
    catalogue = pa.table(
        {
            "product_id": product_ids,
            "name": np.char.add("Product ", np.arange(n).astype(str)),
            "category": np.array([f"category {c}" for c in np.arange(n) // per_category]),
            "subcategory": [None] * n,
            "brand": [None] * n,
            "price": np.full(n, 99.0),
            "in_stock_flag": pa.nulls(n, pa.bool_()),
            "replenishable_flag": pa.nulls(n, pa.bool_()),
            "reviews": (np.arange(n) % 2 == 0).astype(np.int64),
            "galleries": (np.arange(n) % 3 == 1).astype(np.int64),
        }
    )
    empty_reads = pa.table(
        {
            "profile_id": pa.array([], pa.string()),
            "content_type": pa.array([], pa.string()),
            "category": pa.array([], pa.string()),
            "n": pa.array([], pa.int64()),
        }
    )
    return TrainingData(
        interactions=table,
        catalogue=catalogue,
        content_views=pa.table(
            {
                "product_id": pa.array([], pa.string()),
                "review_views": pa.array([], pa.int64()),
                "gallery_views": pa.array([], pa.int64()),
            }
        ),
        store_sales=pa.table(
            {
                "city": pa.array([], pa.string()),
                "product_id": pa.array([], pa.string()),
                "units": pa.array([], pa.int64()),
            }
        ),
        content_reads=empty_reads,
        cities=pa.table(
            {"profile_id": pa.array([], pa.string()), "city": pa.array([], pa.string())}
        ),
        until=datetime(2026, 1, 1) + timedelta(days=180),
    )
