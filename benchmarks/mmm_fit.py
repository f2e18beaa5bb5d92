"""The fast marketing-mix fit on 3 years of daily data for 8 channels, beside PyMC-Marketing.

Run: ``.venv/bin/python benchmarks/mmm_fit.py [--days 1095] [--channels 8] [--seed 1]
[--bootstrap 30] [--jobs 2] [--draws 300] [--no-bayes]``

One simulated data set (``omnichannel.mmm.simulate``, known ROI per channel), fitted in
the same process by:

- **fast**: ``fit(data)``: hyperparameters by optimisation, held-out tail, refit on all,
  ``--bootstrap`` block-bootstrap refits for the intervals (target: under 60 s on 2 cores);
- **ridge on fixed hyperparameters** (the floor): one NNLS/ridge solve with every channel
  at decay 0.5, half at its mean steady adstock, shape 1: what a fit costs without the
  search, and what the search buys in ROI error;
- **PyMC-Marketing** (``fit(data, method="bayes")``, when ``omnichannel[bayes]`` is
  installed): NUTS, ``--draws`` draws after as many tuning steps, 2 chains.

Printed: each fit's seconds and the ratio to the fast fit, ROI per channel for each with
the truth, the median relative ROI error against the truth, and the fast fit's median
relative ROI difference from PyMC-Marketing's (their agreement).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from omnichannel.mmm.controls import baseline
from omnichannel.mmm.data import MMMData
from omnichannel.mmm.fast import Problem, predict
from omnichannel.mmm.fit import fit
from omnichannel.mmm.simulate import simulate


def _ridge_fixed(d: MMMData) -> np.ndarray:
    """ROI per channel of one solve at fixed hyperparameters."""
    design = baseline(d)
    problem = Problem(d.spend, d.target, design.matrix, rows=d.periods, period="day", ridge=1e-3)
    c = problem.channels
    unit = problem.unit_of(np.full(c, 0.5), problem.scale / 0.5, np.ones(c))
    params = problem.params(unit)
    contribution, _ = predict(problem, params)
    return np.asarray(contribution.sum(axis=1) / d.spend.sum(axis=1))


def _median_rel(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.median(np.abs(found - truth) / truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bootstrap", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--no-bayes", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at start; cores {os.cpu_count()}")
    sim = simulate(days=args.days, channels=args.channels, seed=args.seed)
    truth = np.array(sim.truth["roi"])
    print(f"data: {args.days} days x {args.channels} channels (seed {args.seed})")

    started = time.perf_counter()
    fast = fit(sim.data, bootstrap=args.bootstrap, jobs=args.jobs)
    fast_s = time.perf_counter() - started
    fast_roi = np.array([r["roi"]["value"] for r in fast.report()["channels"]])
    print(
        f"fast fit: {fast_s:.1f} s (search + held-out tail + refit + {args.bootstrap} "
        f"bootstrap refits, {args.jobs} jobs); held-out MAPE "
        f"{fast.holdout['mape']:.3f}; load {os.getloadavg()[0]:.1f}"
    )

    started = time.perf_counter()
    with threadpool_limits(1):
        ridge_roi = _ridge_fixed(sim.data)
    ridge_s = time.perf_counter() - started
    print(
        f"ridge on fixed hyperparameters: {ridge_s:.3f} s (fast / ridge = {fast_s / ridge_s:.0f}x)"
    )

    rows = {"truth": truth, "fast": fast_roi, "ridge-fixed": ridge_roi}
    bayes_s = None
    if not args.no_bayes:
        from omnichannel.mmm.bayes import available

        if not available():
            print("PyMC-Marketing is not installed (pip install 'omnichannel[bayes]'): skipped")
        else:
            started = time.perf_counter()
            bayes = fit(sim.data, method="bayes", draws=args.draws, tune=args.draws)
            bayes_s = time.perf_counter() - started
            rows["pymc-marketing"] = np.array(
                [r["roi"]["value"] for r in bayes.report()["channels"]]
            )
            print(
                f"PyMC-Marketing fit: {bayes_s:.1f} s ({args.draws} draws + {args.draws} tune x "
                f"2 chains, {bayes.options['divergences']} divergences); held-out MAPE "
                f"{bayes.holdout['mape']:.3f}; load {os.getloadavg()[0]:.1f}"
            )
            print(f"ratio PyMC-Marketing / fast = {bayes_s / fast_s:.1f}x")
    names = sim.truth["channels"]
    print("ROI per channel (target units per spend unit):")
    print(f"{'':>16}" + "".join(f"{n:>11}" for n in names))
    for label, values in rows.items():
        print(f"{label:>16}" + "".join(f"{v:>11.4f}" for v in values))
    for label, values in rows.items():
        if label != "truth":
            print(f"{label}: median relative ROI error vs truth {_median_rel(values, truth):.1%}")
    if "pymc-marketing" in rows:
        agreement = _median_rel(rows["fast"], rows["pymc-marketing"])
        print(f"fast vs PyMC-Marketing: median relative ROI difference {agreement:.1%}")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
