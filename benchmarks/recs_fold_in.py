"""A fold-in update: one person's next recommendations after a new event, without a retrain.

An ALS model is fitted on the synthetic interactions of ``recs_synthetic.py`` (1,000,000 by
default). For ``--people`` random people, in this process:

* baseline: their recommendations from the trained vector (``changed=False``), what a
  request costs when nothing arrived since training;
* fold-in: three new views added to their live entries, then their recommendations,
  which rebuilds the row and recalculates the vector (``implicit``'s
  ``recalculate_user``) before scoring and ranking.

BLAS is put on one thread first, as the server does (``single_threaded_blas``).

Prints p50 and p99 of both, the ratio, and the target (< 100 ms). Run:
``python benchmarks/recs_fold_in.py [--interactions 1000000 --people 1000]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from omnichannel.recommendations.config import RecommendationsConfig
from omnichannel.recommendations.model import single_threaded_blas
from omnichannel.recommendations.recommend import PersonState, recommend
from omnichannel.recommendations.train import fit_recommender
from recs_synthetic import training_data

TARGET_MS = 100.0


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=1000)
    args = parser.parse_args()
    config = RecommendationsConfig()
    model = fit_recommender(training_data(args.interactions), config, "als")
    single_threaded_blas()  # what the server does before it scores (model.py)
    slot = config.slot("email")
    rng = np.random.default_rng(11)
    ids = list(model.people)
    chosen = [ids[i] for i in rng.choice(len(ids), args.people, replace=False)]
    n = len(model.items)

    def state(pid: str, new: np.ndarray | None) -> PersonState:
        i = model.people[pid]
        row = model.confidence[i]
        purchased = set(model.purchased[i].indices.tolist())
        viewed = set(model.viewed[i].indices.tolist())
        if new is None:
            return PersonState(row, purchased, viewed, None, changed=False)
        added = sp.csr_matrix((np.ones(len(new), np.float32), ([0] * len(new), new)), (1, n))
        return PersonState((row + added).tocsr(), purchased, viewed | set(new), None, True)

    trained, folded = [], []
    for pid in chosen:
        started = time.perf_counter()
        recommend(model, pid, state(pid, None), slot, config)
        trained.append((time.perf_counter() - started) * 1000)
        new = rng.integers(0, n, 3)
        started = time.perf_counter()
        recommend(model, pid, state(pid, new), slot, config)
        folded.append((time.perf_counter() - started) * 1000)
    print(
        f"ALS on {args.interactions:,} interactions, {n:,} items; {args.people} people; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    for label, values in (("trained vector", trained), ("fold-in (3 new views)", folded)):
        print(
            f"{label:24s} p50 {quantile(values, 0.5):6.2f} ms  p99 {quantile(values, 0.99):6.2f} ms"
        )
    ratio = quantile(folded, 0.99) / quantile(trained, 0.99)
    print(f"ratio fold-in / trained (p99): {ratio:.2f}")
    verdict = "met" if quantile(folded, 0.99) < TARGET_MS else "NOT met"
    print(f"target fold-in < {TARGET_MS:.0f} ms (p99): {verdict}")


if __name__ == "__main__":
    main()
