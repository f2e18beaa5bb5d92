"""False-positive rate under daily peeking: the always-valid mSPRT against a z-test read daily.

Simulates A/A experiments (both arms convert at the same rate), reads each one every day
for ``--days`` days and counts an experiment as a false positive the first day its
p-value falls under alpha. The fixed-horizon z-test read daily inflates that rate far
above alpha; the mSPRT's always-valid p-value (analytics/experiments/sequential.py) keeps
it at or under alpha. An A/B run (a real lift) shows the price: how often each detects it.

    .venv/bin/python evaluations/experiments_peeking.py --experiments 2000 --days 30
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from scipy import stats as sps

from omnichannel.analytics.experiments.sequential import msprt


def simulate(
    rng: np.random.Generator, experiments: int, days: int, per_day: int, rate: float, lift: float
) -> dict[str, float]:
    shape = (experiments, days)
    conv_c = np.cumsum(rng.binomial(per_day, rate, shape), axis=1).astype(np.float64)
    conv_t = np.cumsum(rng.binomial(per_day, rate * (1 + lift), shape), axis=1).astype(np.float64)
    n = np.cumsum(np.full(shape, per_day), axis=1).astype(np.float64)
    pooled = (conv_c + conv_t) / (2 * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (conv_t / n - conv_c / n) / np.sqrt(pooled * (1 - pooled) * 2 / n)
    p_naive = np.where(np.isfinite(z), 2 * sps.norm.sf(np.abs(z)), 1.0)
    # 0/1 outcomes: the sum of squares is the number of conversions.
    seq = msprt(n, conv_c, conv_c, n, conv_t, conv_t, alpha=ALPHA)
    truth = rate * lift
    return {
        "naive_daily": float((p_naive < ALPHA).any(axis=1).mean()),
        "naive_final": float((p_naive[:, -1] < ALPHA).mean()),
        "msprt_daily": float((seq["p_value"] < ALPHA).any(axis=1).mean()),
        "cs_excludes_truth": float(
            ((seq["low"] > truth) | (seq["high"] < truth)).any(axis=1).mean()
        ),
    }


ALPHA = 0.05
console = Console(highlight=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=200, help="People per arm per day.")
    parser.add_argument("--rate", type=float, default=0.1, help="Control conversion rate.")
    parser.add_argument("--lift", type=float, default=0.2, help="A/B run's relative lift.")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    aa = simulate(rng, args.experiments, args.days, args.per_day, args.rate, 0.0)
    ab = simulate(rng, args.experiments, args.days, args.per_day, args.rate, args.lift)
    console.print(
        f"A/A, {args.experiments} experiments read daily for {args.days} days "
        f"({args.per_day}/arm/day, rate {args.rate}), alpha {ALPHA}:"
    )
    console.print(f"  false-positive rate, z-test read daily:      {aa['naive_daily']:.3f}")
    console.print(f"  false-positive rate, z-test read once (end): {aa['naive_final']:.3f}")
    console.print(f"  false-positive rate, mSPRT read daily:       {aa['msprt_daily']:.3f}")
    console.print(f"  confidence sequence ever missing the truth:  {aa['cs_excludes_truth']:.3f}")
    ok = aa["msprt_daily"] <= ALPHA and aa["naive_daily"] > ALPHA
    console.print(f"  always-valid <= alpha < naive daily: {'yes' if ok else 'NO'}")
    console.print(
        f"A/B (lift {args.lift:+.0%}): power, mSPRT read daily {ab['msprt_daily']:.3f}, "
        f"z-test once at the end {ab['naive_final']:.3f}"
    )


if __name__ == "__main__":
    main()
