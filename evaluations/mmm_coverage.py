"""Do the fast fit's 90% bootstrap intervals contain the truth 90% of the time?

Run: ``.venv/bin/python evaluations/mmm_coverage.py [--simulations 50] [--days 365]
[--channels 3] [--bootstrap 30] [--jobs 1]``

Each simulation (``omnichannel.mmm.simulate``, seeds 0 to N-1) is fitted with
``--bootstrap`` block-bootstrap refits; per channel it is checked whether the true ROI,
decay and share of the paid contribution lie inside the fit's 90% interval, and whether
the point estimate lies inside its own interval (a percentile interval need not hold
it, but one that rarely does was drawn around another optimum). Printed: the coverage
per figure over every channel of every simulation, with its binomial standard error.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console

from omnichannel.mmm.fit import fit
from omnichannel.mmm.simulate import simulate

FIGURES = ("roi", "decay", "share")
console = Console(width=160)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    inside = {name: [] for name in (*FIGURES, "point")}  # type: dict[str, list[bool]]
    width = []
    started = time.perf_counter()
    for seed in range(args.simulations):
        sim = simulate(days=args.days, channels=args.channels, seed=seed)
        report = fit(sim.data, bootstrap=args.bootstrap, seed=seed, jobs=args.jobs).report()
        for k, row in enumerate(report["channels"]):
            for name in FIGURES:
                lo, hi = row[name]["interval"]
                inside[name].append(lo <= sim.truth[name][k] <= hi)
            lo, hi = row["roi"]["interval"]
            inside["point"].append(lo <= row["roi"]["value"] <= hi)
            width.append((hi - lo) / sim.truth["roi"][k])
    seconds = time.perf_counter() - started
    console.print(
        f"{args.simulations} simulations, {args.days} days x {args.channels} channels, "
        f"{args.bootstrap} refits each, in {seconds:.0f} s"
    )
    for name, hits in inside.items():
        rate = float(np.mean(hits))
        error = np.sqrt(rate * (1 - rate) / len(hits))
        what = "point inside its own ROI interval" if name == "point" else f"true {name}"
        console.print(f"  {what}: {rate:.1%} of {len(hits)} (+/- {error:.1%}), nominal 90%")
    console.print(f"  ROI interval width / true ROI: median {np.median(width):.2f}")


if __name__ == "__main__":
    main()
