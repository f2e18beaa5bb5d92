"""The fit on synthetic customers with a known answer: k recovered by silhouette (k-means)
and by BIC (GMM), clusters numbered by size, ids kept when a refit is matched."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from omnichannel.clustering.features import LOGGED, Features
from omnichannel.clustering.fit import PROSPECTS, fit_clusters
from omnichannel.clustering.personas import describe
from omnichannel.errors import ValidationError

COLUMNS = [*LOGGED, "orders_share:store", "orders_share:web"]
# Three kinds of customer: (orders, order value, store share), plus people who never bought.
KINDS = ((1.0, 60.0, 0.1), (6.0, 90.0, 0.9), (2.0, 900.0, 0.5))
SIZES = (120, 70, 40)


def blobs(seed: int = 0) -> tuple[Features, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for kind, ((orders, value, store), size) in enumerate(zip(KINDS, SIZES, strict=True)):
        for _ in range(size):
            n = max(1.0, round(orders * rng.lognormal(0, 0.15)))
            aov = value * rng.lognormal(0, 0.15)
            share = float(np.clip(store + rng.normal(0, 0.05), 0, 1))
            days = 30 * rng.lognormal(0, 0.2)
            rows.append([days, n, n * aov, aov, 300.0, 40.0, share, 1 - share])
            truth.append(kind + 1)
    for _ in range(25):  # never ordered
        rows.append([200.0, 0, 0, 0, 200.0, 5.0, 0.0, 0.0])
        truth.append(PROSPECTS)
    ids = [f"p_{i:04d}" for i in range(len(rows))]
    return Features(ids, COLUMNS, np.asarray(rows)), np.asarray(truth)


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm"])
def test_three_kinds_of_customer_are_found_as_three_clusters(algorithm: str) -> None:
    features, truth = blobs()
    model = fit_clusters(features, algorithm, k_range=(2, 6))
    assert model.k == 3
    assert [s["k"] for s in model.scores] == [2, 3, 4, 5, 6]
    assert adjusted_rand_score(truth, model.labels) == pytest.approx(1.0)
    # Numbered by size, largest first; people who never ordered are cluster 0.
    sizes = [int((model.labels == c).sum()) for c in (0, 1, 2, 3)]
    assert sizes == [25, *SIZES]


def test_personas_say_what_sets_each_cluster_apart_with_numbers() -> None:
    features, _ = blobs()
    model = fit_clusters(features, "kmeans", k_range=(2, 6))
    personas = {p["cluster"]: p for p in describe(model, features)}
    store_loyal = personas[2]  # 6 orders, 90 each, 90 % in store
    assert store_loyal["size"] == 70 and store_loyal["share"] == round(70 / 255, 4)
    said = " ".join(f["text"] for f in store_loyal["features"])
    assert "% of orders in store" in said and "orders each" in said
    assert store_loyal["name"].startswith(("Store-loyal", "Frequent"))
    big_baskets = personas[3]
    assert big_baskets["features"][0]["feature"] in ("average_order_value", "revenue")
    assert "x the average" in big_baskets["description"]
    assert personas[0]["prospects"] and personas[0]["description"].startswith(
        personas[0]["name"] + ": no order yet"
    )
    assert len({p["name"] for p in personas.values()}) == 4


def test_a_refit_keeps_each_clusters_id_for_the_same_people() -> None:
    features, _ = blobs()
    first = fit_clusters(features, "kmeans", k_range=(2, 6), seed=1)
    # Other data order and another seed: the estimator's own labels come out permuted.
    order = np.random.default_rng(5).permutation(len(features))
    shuffled = Features([features.profile_ids[i] for i in order], COLUMNS, features.values[order])
    second = fit_clusters(shuffled, "kmeans", k_range=(2, 6), seed=99, previous=first)
    assert second.kept == [1, 2, 3]
    for pid in features.profile_ids:
        assert second.label_of(pid) == first.label_of(pid)
    # A cluster the previous fit did not have gets an id never used before.
    extra = np.vstack([features.values, [[2, 30, 9000, 300, 900, 400, 0, 1]] * 30])
    grown = Features([*features.profile_ids, *(f"q_{i}" for i in range(30))], COLUMNS, extra)
    third = fit_clusters(grown, "kmeans", k_range=(4, 4), previous=first)
    assert sorted(third.ids) == [1, 2, 3, 4] and third.label_of("q_0") == 4


def test_too_few_customers_or_a_bad_range_is_refused_with_what_is_accepted() -> None:
    features, _ = blobs()
    few = Features(features.profile_ids[:5], COLUMNS, features.values[:5])
    with pytest.raises(ValidationError, match=r"customers=5 .*at least 10"):
        fit_clusters(few)
    with pytest.raises(ValidationError, match=r"k_range='5-3'"):
        fit_clusters(features, k_range=(5, 3))
    with pytest.raises(ValidationError, match=r"algorithm='dbscan'.*kmeans, gmm"):
        fit_clusters(features, "dbscan")
