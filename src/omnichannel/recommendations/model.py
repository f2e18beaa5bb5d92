"""A trained recommender: the item-person matrix, one algorithm's parameters, item features.

``fit_recommender`` turns interactions (``interactions.read_interactions``) into a
``Recommender``, the artefact a model version stores (pickled, in the home). Every
artefact carries, whatever its algorithm:

- the confidence matrix (people x items, ``weights`` of ``recommendations.yaml``) and which
  items each person bought and viewed (for the business rules),
- item popularity overall and per category (the baseline, and "popular in Z"),
- item-item cosine neighbours (item-kNN's scores, and every algorithm's "similar to Y"
  reason), association rules of the baskets ("bought together with X", ``rules.py``) and
  co-purchases by the same people ("people who bought X also bought it"),
- the content features of the cold start (``content.py``).

Algorithms: ``als`` and ``bpr`` (``implicit``'s matrix factorisation), ``item_knn``
(``implicit``'s ``CosineRecommender``), ``popularity`` and ``content``. A person's scores
come from their current row, so an event that arrived after training counts at once:
ALS refits the person's vector with ``recalculate_user`` (one least-squares step, the
fold-in), BPR's vector is refitted the same way on its item factors, item-kNN and the
content model read the row directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from omnichannel.recommendations.content import ContentFeatures
from omnichannel.recommendations.rules import Rule

NEIGHBOURS = 50
# What a stored artefact holds; a version stored by another format is retrained, not read.
ARTEFACT_FORMAT = 2


@dataclass
class Recommender:
    """The artefact of one trained model version (see the module docstring)."""

    algorithm: str
    params: dict[str, Any]
    items: list[str]
    item_names: list[str]
    item_category: np.ndarray  # index into categories
    categories: list[str]
    people: dict[str, int]
    confidence: sp.csr_matrix  # people x items
    purchased: sp.csr_matrix  # people x items, units
    viewed: sp.csr_matrix  # people x items, views and adds
    popularity: np.ndarray  # per item, share of all confidence
    similarity: sp.csr_matrix  # items x items, cosine, NEIGHBOURS per item
    co_purchase: sp.csr_matrix  # items x items, people who bought both
    replenishable: np.ndarray  # bool per item
    in_stock: np.ndarray  # bool per item
    stock_known: bool
    content: ContentFeatures
    rules: list[Rule]  # association rules of the baskets, strongest lift first
    rules_summary: dict[str, Any]
    rule_pairs: dict[tuple[int, int], tuple[float, float]]  # (X, Y) -> (lift, confidence)
    trained_until: datetime | None
    # The newest ``events.load_seq`` when the data was read: later events are folded in.
    trained_load_seq: int = 0
    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    estimator: Any = None
    format: int = ARTEFACT_FORMAT
    _gram: np.ndarray | None = field(default=None, repr=False)

    @property
    def item_index(self) -> dict[str, int]:
        cached: dict[str, int] | None = self.__dict__.get("_item_index")
        if cached is None:
            cached = {item: i for i, item in enumerate(self.items)}
            self.__dict__["_item_index"] = cached
        return cached

    def row_of(self, matrix_name: str, item: int) -> tuple[np.ndarray, np.ndarray]:
        """``(items, values)`` of one item's row of ``similarity_t`` (who points to it) or
        ``co_purchase``, read straight from the CSR arrays (indexing costs ~1 ms)."""
        if matrix_name == "similarity_t":
            matrix = self.__dict__.get("_similarity_t")
            if matrix is None:
                matrix = self.__dict__["_similarity_t"] = self.similarity.T.tocsr()
        else:
            matrix = self.co_purchase
        start, end = matrix.indptr[item], matrix.indptr[item + 1]
        return matrix.indices[start:end], matrix.data[start:end]

    def row(self, profile_id: str) -> sp.csr_matrix:
        """The person's confidence row as trained (empty for someone not seen)."""
        i = self.people.get(profile_id)
        if i is None:
            return sp.csr_matrix((1, len(self.items)), dtype=np.float32)
        return self.confidence[i]

    def scores(self, profile_id: str, row: sp.csr_matrix, *, changed: bool) -> np.ndarray:
        """Every item's score for a person whose current row is ``row``; ``changed``: it
        differs from the trained one (events since training), so factors are folded in."""
        n = len(self.items)
        if self.algorithm == "popularity":
            return self.popularity.astype(np.float64)
        if self.algorithm == "item_knn":
            return np.asarray((row @ self.similarity).todense()).ravel().astype(np.float64)
        if self.algorithm == "content":
            return self.content.scores(profile_id, row, self.item_category, self.popularity)
        if self.item_factors is None or self.user_factors is None:
            return np.zeros(n)
        vector = self.user_vector(profile_id, row, changed=changed)
        if vector is None:
            return self.popularity.astype(np.float64)
        # In the factors' own dtype: a float64 vector makes numpy copy the whole matrix.
        product = self.item_factors @ vector.astype(self.item_factors.dtype, copy=False)
        return np.asarray(product, dtype=np.float64)

    def user_vector(
        self, profile_id: str, row: sp.csr_matrix, *, changed: bool
    ) -> np.ndarray | None:
        """The person's factors: trained, or folded in from ``row`` (None: nothing to go on)."""
        assert self.user_factors is not None and self.item_factors is not None
        i = self.people.get(profile_id)
        if i is not None and not changed:
            return np.asarray(self.user_factors[i])
        if row.nnz == 0:
            return None
        if self.algorithm == "als":
            # One person: OpenMP threads cost more to start than the solve (54 vs 2 ms).
            self.estimator.num_threads = 1
            return np.asarray(self.estimator.recalculate_user(0, row.tocsr()))
        return self._fold_in_bpr(row)

    def _fold_in_bpr(self, row: sp.csr_matrix) -> np.ndarray:
        """BPR has no fold-in of its own: one weighted least-squares step on its item factors
        (the ALS step, preference 1 for what the person touched, with BPR's item bias)."""
        assert self.item_factors is not None
        y = self.item_factors[:, :-1].astype(np.float64)
        bias = self.item_factors[:, -1].astype(np.float64)
        lam = float(self.params.get("regularization", 0.05)) + 1e-3
        if self._gram is None:
            self._gram = y.T @ y
        idx = row.indices
        conf = row.data.astype(np.float64)
        yi = y[idx]
        a = self._gram + yi.T @ (yi * conf[:, None]) + lam * np.eye(y.shape[1])
        target = -(y.T @ bias) + yi.T @ ((1.0 + conf) * (1.0 - bias[idx]) + bias[idx])
        u = np.linalg.solve(a, target)
        return np.concatenate([u, [1.0]])


_SERVING_LIMIT: Any = None


def single_threaded_blas() -> None:
    """Put BLAS on one thread in this process, once (a server calls it before scoring).

    A person's scores are one small matrix-vector product and their fold-in one small
    solve; with a BLAS thread pool on a busy 2-core machine the product of 10,000 items
    by 64 factors took 6.5 ms instead of 0.2 ms. implicit trains with its own threads and
    asks for BLAS on one thread as well.
    """
    global _SERVING_LIMIT
    if _SERVING_LIMIT is None:
        from threadpoolctl import threadpool_limits

        _SERVING_LIMIT = threadpool_limits(1, "blas")


def build_matrices(
    interactions: pa.Table, items: list[str], weights: Mapping[str, float]
) -> tuple[dict[str, int], sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """``people``, confidence, purchased units and views+adds (people x items) of a table."""
    # Vectorised (Arrow): a million interactions through Python dicts cost seconds.
    item_of = pc.index_in(interactions.column("product_id"), value_set=pa.array(items))
    known = pc.is_valid(item_of)
    kept = interactions.filter(known)
    cols = pc.drop_null(item_of).to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(kept.column("profile_id").combine_chunks())
    people = {str(p): i for i, p in enumerate(encoded.dictionary.to_pylist())}
    rows = encoded.indices.to_numpy().astype(np.int64)
    kinds = kept.column("kind").to_numpy(zero_copy_only=False)
    w = np.zeros(len(kinds), np.float32)
    for kind, value in weights.items():
        w[kinds == kind] = value
    shape = (len(people), len(items))
    confidence = sp.csr_matrix((w, (rows, cols)), shape=shape, dtype=np.float32)
    bought = kinds == "purchase"
    purchased = sp.csr_matrix(
        (np.ones(int(bought.sum()), np.float32), (rows[bought], cols[bought])), shape=shape
    )
    looked = ~bought
    viewed = sp.csr_matrix(
        (np.ones(int(looked.sum()), np.float32), (rows[looked], cols[looked])), shape=shape
    )
    for m in (confidence, purchased, viewed):
        m.sum_duplicates()
    return people, confidence, purchased, viewed


def fit_estimator(algorithm: str, confidence: sp.csr_matrix, params: Mapping[str, Any]) -> Any:
    """``implicit``'s model of ``algorithm`` fitted on ``confidence`` (None for the others)."""
    from threadpoolctl import threadpool_limits

    if algorithm not in ("als", "bpr"):
        return None
    common = {
        "factors": int(params.get("factors", 64)),
        "iterations": int(params.get("iterations", 15)),
        "regularization": float(params.get("regularization", 0.05)),
        "random_state": int(params.get("random_state", 7)),
    }
    # Imported before the limit: a BLAS library loaded inside it would not be limited.
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    # implicit parallelises over people itself; a second BLAS thread pool fights it.
    with threadpool_limits(1, "blas"):
        if algorithm == "als":
            model: Any = AlternatingLeastSquares(**common)
        else:
            common["iterations"] = max(common["iterations"], 60)  # SGD needs more passes
            model = BayesianPersonalizedRanking(learning_rate=0.05, **common)
        model.fit(confidence, show_progress=False)
    return model


def item_neighbours(confidence: sp.csr_matrix) -> sp.csr_matrix:
    """Item-item cosine over people, the ``NEIGHBOURS`` nearest of each item kept."""
    import warnings

    from implicit.nearest_neighbours import CosineRecommender
    from implicit.utils import ParameterWarning

    knn = CosineRecommender(K=NEIGHBOURS)
    with warnings.catch_warnings():
        # It converts its own transpose to CSR and warns about it; the input is CSR.
        warnings.simplefilter("ignore", ParameterWarning)
        knn.fit(confidence, show_progress=False)
    similarity: sp.csr_matrix = knn.similarity.tocsr()
    similarity.setdiag(0)
    similarity.eliminate_zeros()
    return similarity


def popularity_of(confidence: sp.csr_matrix) -> np.ndarray:
    totals = np.asarray(confidence.sum(axis=0)).ravel().astype(np.float64)
    total = totals.sum()
    return totals / total if total > 0 else totals
