"""Fit k-means or a Gaussian mixture over a range of k, choose k, keep cluster identities.

- ``kmeans``: scikit-learn ``KMeans`` (``n_init=4``) for every k in the range; the k
  with the highest **silhouette** wins.
- ``gmm``: ``GaussianMixture`` (diagonal covariances, ``n_init=2``, a variance floor
  ``reg_covar=0.1`` on the standardised features: without it the many exact 0 and 1
  shares make near-zero variances and the BIC falls with every k added) for every k;
  the k with the lowest **BIC** wins.

Customers (profiles with at least one order) are clustered: recency, order value and
the channel mix mean nothing for someone who never bought, and they would otherwise be
the one split every k found. People without an order are cluster 0, **prospects**,
described like the others but not fitted.

Both are seeded (``seed``), so the same data gives the same clusters. Each version
reports every k's score, the chosen k and the silhouette of its labels: silhouette on
the same scaled features is what a promotion compares, for either algorithm.

**Identities.** A cluster's id (1, 2, 3...) is what a saved segment and a marketer hold
on to. A first fit numbers clusters by size, largest first. A refit (``previous``)
matches its clusters to the previous version's by centroid: both sets of centroids are
put in the new fit's scaled space and paired by the Hungarian method
(``scipy.optimize.linear_sum_assignment``) on their distances; a pair further apart than
the median distance between the new centroids is not the same cluster. Matched clusters
keep their ids; the others get ids never used before, so an id never changes meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from omnichannel.clustering.features import Features, Scaling
from omnichannel.errors import ValidationError

ALGORITHMS = ("kmeans", "gmm")
DEFAULT_ALGORITHM = "kmeans"
DEFAULT_K_RANGE = (2, 8)
DEFAULT_SEED = 7
MIN_PROFILES = 10
PROSPECTS = 0  # the id of people without an order
# Silhouette costs n² distances: above this many people it is estimated on a sample.
SILHOUETTE_SAMPLE = 4000
ARTEFACT_FORMAT = 1


@dataclass
class ClusterModel:
    """A fitted clustering: what a ``clusters`` version's artefact holds."""

    algorithm: str
    k: int
    seed: int
    k_range: tuple[int, int]
    scaling: Scaling
    estimator: Any
    ids: list[int]  # the estimator's label i is cluster ids[i]
    next_id: int
    scores: list[dict[str, float]]  # one per k tried: k, silhouette (and bic for gmm)
    silhouette: float
    bic: float | None
    profile_ids: list[str]
    labels: np.ndarray  # cluster id of each of profile_ids
    centroids: np.ndarray  # per estimator label, on the log scale (Scaling.logged)
    as_of: datetime | None
    personas: list[dict[str, Any]] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # ids the previous version had too
    format: int = ARTEFACT_FORMAT

    @property
    def columns(self) -> list[str]:
        return self.scaling.columns

    def predict(self, values: np.ndarray) -> np.ndarray:
        """Cluster ids of rows of natural-unit features (the model's columns); rows
        without an order are ``PROSPECTS``."""
        out = np.full(len(values), PROSPECTS, dtype=np.int64)
        buyers = customers(values, self.columns)
        if buyers.any():
            raw = np.asarray(self.estimator.predict(self.scaling.transform(values[buyers])))
            out[buyers] = np.asarray(self.ids)[raw]
        return out

    def label_of(self, profile_id: str) -> int | None:
        index = self._index().get(profile_id)
        return int(self.labels[index]) if index is not None else None

    def _index(self) -> dict[str, int]:
        cached: dict[str, int] | None = self.__dict__.get("_by_profile")
        if cached is None:
            cached = {pid: i for i, pid in enumerate(self.profile_ids)}
            self.__dict__["_by_profile"] = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_by_profile", None)
        return state


def customers(values: np.ndarray, columns: list[str]) -> np.ndarray:
    """Which rows have at least one order (the people clustered)."""
    return np.asarray(values[:, columns.index("orders")] > 0)


def check_algorithm(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise ValidationError("algorithm", algorithm, "one of " + ", ".join(ALGORITHMS))
    return algorithm


def check_k_range(k_min: int, k_max: int) -> tuple[int, int]:
    if not 2 <= k_min <= k_max <= 30:
        raise ValidationError(
            "k_range", f"{k_min}-{k_max}", "two whole numbers 2 <= k_min <= k_max <= 30"
        )
    return k_min, k_max


def fit_clusters(
    features: Features,
    algorithm: str = DEFAULT_ALGORITHM,
    *,
    k_range: tuple[int, int] = DEFAULT_K_RANGE,
    seed: int = DEFAULT_SEED,
    previous: ClusterModel | None = None,
) -> ClusterModel:
    """Fit every k of ``k_range``, keep the best (module docstring), number its clusters."""
    check_algorithm(algorithm)
    k_min, k_max = check_k_range(*k_range)
    buyers = customers(features.values, features.columns)
    n = int(buyers.sum())
    if n < MIN_PROFILES:
        raise ValidationError(
            "customers",
            n,
            f"at least {MIN_PROFILES} profiles with an order (omni profiles build builds them)",
        )
    fitted = Features(
        [p for p, b in zip(features.profile_ids, buyers, strict=True) if b],
        features.columns,
        features.values[buyers],
        features.as_of,
    )
    scaling = Scaling.fitted(fitted)
    x = scaling.transform(fitted.values)
    distinct = len(np.unique(x.round(9), axis=0))
    k_max = min(k_max, n - 1, distinct)
    if k_max < k_min:
        raise ValidationError(
            "k_range", f"{k_min}-{k_range[1]}", f"at most {k_max} (distinct profiles: {distinct})"
        )
    tried = [_fit_one(x, algorithm, k, seed) for k in range(k_min, k_max + 1)]
    scores = [t[1] for t in tried]
    if algorithm == "gmm":
        best = min(range(len(tried)), key=lambda i: scores[i]["bic"])
    else:
        best = max(range(len(tried)), key=lambda i: scores[i]["silhouette"])
    estimator = tried[best][0]
    raw = np.asarray(estimator.predict(x))
    k = int(estimator.n_clusters if algorithm == "kmeans" else estimator.n_components)
    logged = scaling.logged(fitted.values)
    centroids = np.vstack(
        [logged[raw == i].mean(axis=0) if (raw == i).any() else scaling.mean for i in range(k)]
    )
    ids, next_id, kept = _identities(raw, k, centroids, scaling, previous)
    return ClusterModel(
        algorithm=algorithm,
        k=k,
        seed=seed,
        k_range=(k_min, k_max),
        scaling=scaling,
        estimator=estimator,
        ids=ids,
        next_id=next_id,
        scores=scores,
        silhouette=float(scores[best]["silhouette"]),
        bic=float(scores[best]["bic"]) if algorithm == "gmm" else None,
        profile_ids=list(features.profile_ids),
        labels=_all_labels(buyers, np.asarray(ids)[raw]),
        centroids=centroids,
        as_of=features.as_of,
        kept=kept,
    )


def _all_labels(buyers: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    labels = np.full(len(buyers), PROSPECTS, dtype=np.int64)
    labels[buyers] = fitted
    return labels


def _fit_one(x: np.ndarray, algorithm: str, k: int, seed: int) -> tuple[Any, dict[str, float]]:
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    score: dict[str, float] = {"k": k}
    estimator: Any
    if algorithm == "kmeans":
        estimator = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
    else:
        estimator = GaussianMixture(
            n_components=k, covariance_type="diag", n_init=2, reg_covar=0.1, random_state=seed
        ).fit(x)
        score["bic"] = float(estimator.bic(x))
    score["silhouette"] = silhouette(x, np.asarray(estimator.predict(x)), seed)
    return estimator, score


def silhouette(x: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Mean silhouette (-1..1); -1 when the labels do not make two groups."""
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return -1.0
    sample = SILHOUETTE_SAMPLE if len(labels) > SILHOUETTE_SAMPLE else None
    return float(silhouette_score(x, labels, sample_size=sample, random_state=seed))


def _identities(
    raw: np.ndarray,
    k: int,
    centroids: np.ndarray,
    scaling: Scaling,
    previous: ClusterModel | None,
) -> tuple[list[int], int, list[int]]:
    """Stable ids per estimator label, the next unused id, and which ids were kept."""
    sizes = np.bincount(raw, minlength=k)
    by_size = sorted(range(k), key=lambda i: (-sizes[i], i))
    if previous is None:
        first = [0] * k
        for rank, label in enumerate(by_size):
            first[label] = rank + 1
        return first, k + 1, []
    from scipy.optimize import linear_sum_assignment

    new_space = (centroids - scaling.mean) / scaling.std * scaling.weight
    old_space = _in_space(previous, scaling)
    cost = np.linalg.norm(old_space[:, None, :] - new_space[None, :, :], axis=2)
    between = np.linalg.norm(new_space[:, None, :] - new_space[None, :, :], axis=2)
    limit = float(np.median(between[np.triu_indices(k, 1)])) if k > 1 else float("inf")
    rows, cols = linear_sum_assignment(cost)
    ids: list[int | None] = [None] * k
    kept: list[int] = []
    for old, new in zip(rows, cols, strict=True):
        if cost[old, new] <= limit:
            ids[new] = previous.ids[old]
            kept.append(previous.ids[old])
    next_id = previous.next_id
    for label in by_size:
        if ids[label] is None:
            ids[label] = next_id
            next_id += 1
    return [int(i) for i in ids if i is not None], next_id, sorted(kept)


def _in_space(previous: ClusterModel, scaling: Scaling) -> np.ndarray:
    """The previous centroids in this fit's scaled space (columns it lacks: the mean)."""
    out = np.tile(scaling.mean, (len(previous.ids), 1))
    for j, name in enumerate(scaling.columns):
        if name in previous.columns:
            out[:, j] = previous.centroids[:, previous.columns.index(name)]
        # A share column the previous fit did not have was 0 for everyone then.
        elif ":" in name:
            out[:, j] = 0.0
    return (out - scaling.mean) / scaling.std * scaling.weight
