"""Markov attribution (order 1) on 1,000,000 person paths, beside the heuristic models.

Issue 12's target: Markov order 1 on a million person paths in under 30 s. The paths are
synthetic (10 channels, 1-8 touches, a conversion chance that depends on the channels,
so removal effects differ), built once as a ``PathSet``; each model is then timed on the
same paths. The baseline, run beside it in the same process, is the straightforward
implementation: transitions counted in a Python loop over the paths into a dict, then
the same exact solve; the ratio is vectorised / loop and both must give the same removal
effects. A reference check: the textbook chain of Anderl et al. (C1 > C2 > C3) must give
credits 0.2 / 0.4 / 0.4.

    python benchmarks/attribution_markov.py [--paths 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections import Counter

import numpy as np

from omnichannel.analytics.attribution.markov import markov
from omnichannel.analytics.attribution.paths import PathSet
from omnichannel.analytics.attribution.service import attribute

CHANNELS = (
    "search", "social", "display", "video", "email", "sms", "wechat", "app_push", "store",
    "direct",
)  # fmt: skip
LIFT = np.array([0.06, 0.03, 0.01, 0.02, 0.04, 0.05, 0.05, 0.04, 0.08, 0.02])
HEURISTICS = (
    "first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based",
)  # fmt: skip


def synthetic_paths(n: int, seed: int) -> PathSet:
    rng = np.random.default_rng(seed)
    lengths = np.minimum(rng.geometric(0.35, n), 8)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    touches = rng.choice(len(CHANNELS), offsets[-1], p=np.full(10, 0.1)).astype(np.int32)
    chance = 1 - np.exp(-np.add.reduceat(LIFT[touches], offsets[:-1]))
    converted = (rng.random(n) < chance).astype(np.float64)
    ages = rng.exponential(5.0, offsets[-1])
    return PathSet(
        channels=CHANNELS,
        offsets=offsets,
        touches=touches,
        conversions=converted,
        value=converted * rng.gamma(2.0, 150.0, n).round(2),
        nulls=1 - converted,
        ages=ages,
    )


def loop_removal_effects(paths: PathSet) -> dict[str, float]:
    """The baseline: transitions counted path by path in Python, then the same solve."""
    counts: Counter[tuple[object, object]] = Counter()
    for i in range(paths.n_paths):
        walk = ["start", *paths.touches[paths.offsets[i] : paths.offsets[i + 1]].tolist()]
        for a, b in itertools.pairwise(walk):
            counts[(a, b)] += paths.conversions[i] + paths.nulls[i]
        counts[(walk[-1], "conv")] += paths.conversions[i]
        counts[(walk[-1], "null")] += paths.nulls[i]
    states = ["start", *range(len(paths.channels))]

    def p_conv(removed: int | None) -> float:
        keep = [s for s in states if s != removed]
        q = np.zeros((len(keep), len(keep)))
        r = np.zeros(len(keep))
        at = {s: k for k, s in enumerate(keep)}
        out = Counter()
        for (a, _b), w in counts.items():
            out[a] += w
        for (a, b), w in counts.items():
            if a not in at or not out[a]:
                continue
            if b == "conv":
                r[at[a]] += w / out[a]
            elif b in at:
                q[at[a], at[b]] += w / out[a]
        return float(np.linalg.solve(np.eye(len(keep)) - q, r)[0])

    base = p_conv(None)
    return {c: 1 - p_conv(k) / base for k, c in enumerate(paths.channels)}


def timed(work):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = work()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    textbook = PathSet.from_sequences(
        [["c1", "c2", "c3"], ["c1"], ["c2", "c3"]], [1, 0, 0], nulls=[0, 1, 1]
    )
    reference = {c: round(v[0], 6) for c, v in markov(textbook).by_channel().items()}
    print(f"reference (Anderl et al. textbook chain, expected 0.2/0.4/0.4): {reference}")

    paths, build = timed(lambda: synthetic_paths(args.paths, args.seed))
    print(
        f"{paths.n_paths:,} paths, {len(paths.touches):,} touches, "
        f"{paths.total_conversions:,.0f} conversions (built in {build:.2f} s); "
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    for order in (1, 2, 3):
        credit, seconds = timed(lambda o=order: attribute(paths, "markov", order=o))  # type: ignore[misc]
        label = f"markov order {order}"
        print(f"  {label:<18} {seconds:7.2f} s   states {credit.details['states']:,}")
        if order == 1:
            markov_seconds, effects = seconds, credit.details["removal_effects"]
    for model in (*HEURISTICS, "shapley"):
        _, seconds = timed(lambda m=model: attribute(paths, m))  # type: ignore[misc]
        print(f"  {model:<18} {seconds:7.2f} s")

    baseline, loop_seconds = timed(lambda: loop_removal_effects(paths))
    worst = max(abs(baseline[c] - effects[c]) for c in paths.channels)
    print(
        f"baseline (transitions counted in a Python loop, same solve): {loop_seconds:.2f} s; "
        f"largest removal-effect difference {worst:.2e}"
    )
    print(
        f"markov order 1 on {paths.n_paths:,} paths: {markov_seconds:.2f} s (target < 30 s); "
        f"ratio vectorised / loop baseline = {markov_seconds / loop_seconds:.3f}"
    )


if __name__ == "__main__":
    main()
