"""Recommendations on the demo retailer: every algorithm on one time split, against popularity.

Run: ``.venv/bin/python evaluations/recommendations_demo.py [--people 5000] [--days 180]
[--seed 7] [--holdout-days 14]`` (or ``--home H`` for a home ``omni demo`` made).

The data before the cut-off (``holdout-days`` before the newest interaction) trains each
model; the products a person viewed, added or bought after it that they had not touched
before are what it should have found (``recommendations/evaluate.py``). Printed per
algorithm: Recall@10, NDCG@10, MAP@10 and catalogue coverage, and each one's ratio to the
popularity baseline. These are the scores ``omni models train recommendations`` keeps with
every version.

No public interaction data set (MovieLens, RetailRocket, Instacart...) is available offline
on this machine, so the demo is the only data scored here.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from omnichannel.demo.evaluation import evaluation_home
from omnichannel.platform import Platform
from omnichannel.recommendations.service import ALGORITHMS_BASELINE_FIRST

METRICS = ("recall_at_10", "ndcg_at_10", "map_at_10", "coverage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="A home omni demo made (else one is generated).")
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--holdout-days", type=int, default=14)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home
        if home is None:
            home = Path(scratch) / "home"
            started = time.perf_counter()
            evaluation_home(home, people=args.people, days=args.days, seed=args.seed)
            console.print(f"demo generated and resolved in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        with Platform.open(home) as platform:
            result = platform.recommendations.evaluate(
                ALGORITHMS_BASELINE_FIRST, holdout_days=args.holdout_days
            )
        seconds = time.perf_counter() - started
    baseline = result["metrics"]["popularity"]
    table = Table(
        title=f"time split at {result['cutoff']}: {result['holdout_days']} days held out, "
        f"{result['people']:,} people with new items",
        title_justify="left",
    )
    for column in ("algorithm", *METRICS, "NDCG / popularity"):
        table.add_column(column)
    for name, metrics in result["metrics"].items():
        ratio = (
            f"{metrics['ndcg_at_10'] / baseline['ndcg_at_10']:.2f}"
            if baseline["ndcg_at_10"] > 0
            else "n/a (baseline 0)"
        )
        table.add_row(name, *(f"{metrics[m]:.4f}" for m in METRICS), ratio)
    console.print(table)
    console.print(
        f"fitted and scored {len(result['metrics'])} algorithms in {seconds:.1f} s "
        f"(load {os.getloadavg()[0]:.1f}); no public data set is available offline here"
    )


if __name__ == "__main__":
    main()
