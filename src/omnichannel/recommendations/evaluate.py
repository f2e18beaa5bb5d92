"""Offline evaluation with a time split: Recall@10, NDCG@10, MAP@10 and catalogue coverage.

The data before the cut-off (``holdout_days`` before the newest interaction) trains the
model; the items a person viewed, added or bought after the cut-off that they had not
touched before are what it should have recommended. Everyone with at least one
interaction before and one new item after is scored, through the same ``recommend`` path
people get (the slot's rules off, so the metrics measure ranking, not business rules):
ALS, BPR, item-kNN and content are set beside the popularity baseline on the same split.

- Recall@10: new items found in the top 10 over min(10, new items);
- NDCG@10: discounted gain of the hits over the best possible;
- MAP@10: mean of the precision at each hit over min(10, new items);
- coverage: the share of the catalogue recommended to anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.recommendations.config import RecommendationsConfig, Slot
from omnichannel.recommendations.model import Recommender
from omnichannel.recommendations.recommend import PersonState, recommend
from omnichannel.recommendations.train import TrainingData, fit_recommender

K = 10
PRIMARY_METRIC = "ndcg_at_10"
# Ranking only: what the person touched before is left out (the relevant items are new to
# them), no diversity cap and no stock rule (the slots' rules are for people).
EVALUATION_SLOT = Slot(
    "evaluation",
    k=K,
    max_per_category=None,
    exclude_purchased=False,
    exclude_viewed=True,
    in_stock_only=False,
)


@dataclass
class Split:
    """The time split: training data before ``cutoff``, each person's new items after."""

    cutoff: datetime
    train: TrainingData
    relevant: dict[str, set[str]]


def time_split(data: TrainingData, holdout_days: int) -> Split:
    """Cut ``data`` ``holdout_days`` before its newest interaction."""
    latest = data.latest
    if latest is None:
        from omnichannel.errors import ValidationError

        raise ValidationError("interactions", 0, "product views, adds or orders to learn from")
    cutoff = latest - timedelta(days=holdout_days)
    at = data.interactions.column("at")
    before = pc.less(at, pa.scalar(cutoff, at.type))
    train_rows = data.interactions.filter(before)
    test_rows = data.interactions.filter(pc.invert(before))
    seen: dict[str, set[str]] = {}
    for pid, item in zip(
        train_rows.column("profile_id").to_pylist(),
        train_rows.column("product_id").to_pylist(),
        strict=True,
    ):
        seen.setdefault(pid, set()).add(item)
    relevant: dict[str, set[str]] = {}
    for pid, item in zip(
        test_rows.column("profile_id").to_pylist(),
        test_rows.column("product_id").to_pylist(),
        strict=True,
    ):
        if pid in seen and item not in seen[pid]:
            relevant.setdefault(pid, set()).add(item)
    reads = data.content_reads  # counted over all time: reads say what kind of reader one is
    train = TrainingData(
        interactions=train_rows,
        catalogue=data.catalogue,
        content_views=data.content_views,
        store_sales=data.store_sales,
        content_reads=reads,
        cities=data.cities,
        until=cutoff,
        baskets=data.baskets,
    )
    return Split(cutoff=cutoff, train=train, relevant=relevant)


def score_model(
    model: Recommender, split: Split, config: RecommendationsConfig
) -> dict[str, float]:
    """The four metrics of one fitted model on the split's people."""
    recall: list[float] = []
    ndcg: list[float] = []
    ap: list[float] = []
    shown: set[str] = set()
    # The metrics rank for people past the cold start as well: score with the model itself.
    ranking_config = RecommendationsConfig(cold_start_below=0)
    for pid, wanted in sorted(split.relevant.items()):
        i = model.people.get(pid)
        if i is None:
            continue
        row = model.confidence[i]
        state = PersonState(row, set(), {int(j) for j in row.indices}, None, changed=False)
        answer = recommend(model, pid, state, EVALUATION_SLOT, ranking_config)
        got = [item["product_id"] for item in answer["items"]]
        shown.update(got)
        hits = [1.0 if item in wanted else 0.0 for item in got]
        ideal = min(K, len(wanted))
        recall.append(sum(hits) / ideal)
        dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1.0 / np.log2(r + 2) for r in range(ideal))
        ndcg.append(dcg / idcg)
        precisions = [sum(hits[: r + 1]) / (r + 1) for r, h in enumerate(hits) if h]
        ap.append(sum(precisions) / ideal)
    del config
    people = len(recall)
    return {
        "recall_at_10": float(np.mean(recall)) if people else 0.0,
        PRIMARY_METRIC: float(np.mean(ndcg)) if people else 0.0,
        "map_at_10": float(np.mean(ap)) if people else 0.0,
        "coverage": len(shown) / len(model.items) if model.items else 0.0,
        "people": float(people),
    }


def evaluate(
    data: TrainingData,
    config: RecommendationsConfig,
    algorithms: Sequence[str],
    *,
    holdout_days: int | None = None,
) -> dict[str, Any]:
    """Every algorithm fitted on the same time split and scored; the baseline first."""
    split = time_split(data, holdout_days or config.holdout_days)
    results: dict[str, dict[str, float]] = {}
    for algorithm in algorithms:
        model = fit_recommender(split.train, config, algorithm)
        results[algorithm] = score_model(model, split, config)
    return {
        "cutoff": split.cutoff.isoformat(),
        "holdout_days": holdout_days or config.holdout_days,
        "people": len(split.relevant),
        "metrics": results,
    }
