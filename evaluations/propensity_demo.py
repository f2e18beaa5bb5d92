"""Propensity on the demo retailer: both targets on a time split, against a recency baseline.

Run: ``.venv/bin/python evaluations/propensity_demo.py [--people 3000] [--days 180]
[--seed 7] [--horizon-days 30]`` (or ``--home H`` for a home ``omni demo`` made).

For each target (``purchase_30d``: an order in the 30 days after the cut-off;
``churn``: a customer with neither an order nor a visit in them) the calibrated gradient
boosting is trained on the three cut-offs before the evaluation cut-off (30 days before
the end of the history), each with its own label window, and scored on the evaluation
cut-off (``propensity/service.py``). Printed: AUC, PR-AUC, Brier and log loss of the
model, of the same booster uncalibrated (Brier) and of a logistic regression on recency
alone; the reliability table (predicted against observed per bin) of the model and of
the baseline; the lift of the top deciles. These are the scores ``omni models train
propensity-purchase-30d`` / ``propensity-churn`` keep with every version.

No public customer data set with purchases and visits over time is available offline on
this machine, so the demo is the only data scored here.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from omnichannel.demo.evaluation import evaluation_home
from omnichannel.platform import Platform
from omnichannel.propensity.service import TARGETS

METRICS = ("auc", "pr_auc", "brier", "log_loss")


def _print(console: Console, target: str, m: dict[str, Any], split: dict[str, Any]) -> None:
    base = m["baseline"]
    table = Table(
        title=f"{target}: cut-off {split['cutoff'][:10]} (trained on "
        f"{', '.join(c[:10] for c in split['train_cutoffs'])}), {m['people']:,} people, "
        f"{m['positives']:,} positive ({m['base_rate']:.1%}), {m['calibration']} calibration",
        title_justify="left",
    )
    for column in ("model", *METRICS):
        table.add_column(column, justify="right")
    table.add_row("calibrated boosting", *[f"{m[k]:.4f}" for k in METRICS])
    table.add_row(
        "same booster, uncalibrated",
        f"{m['auc_uncalibrated']:.4f}",
        "",
        f"{m['brier_uncalibrated']:.4f}",
        "",
    )
    table.add_row("recency-only logistic", *[f"{base[k]:.4f}" for k in METRICS])
    console.print(table)
    rel = Table(title=f"{target}: reliability (model | baseline)", title_justify="left")
    for column in ("bin", "people", "predicted", "observed", "| people", "predicted ", "observed "):
        rel.add_column(column, justify="right")
    for ours, theirs in zip(m["reliability"], m["reliability_baseline"], strict=True):
        if not ours["people"] and not theirs["people"]:
            continue
        rel.add_row(
            ours["bin"],
            str(ours["people"]),
            _f(ours["predicted"]),
            _f(ours["observed"]),
            str(theirs["people"]),
            _f(theirs["predicted"]),
            _f(theirs["observed"]),
        )
    console.print(rel)
    top = ", ".join(f"d{d['decile']} {d['rate']:.1%} (x{d['lift']})" for d in m["lift"][:3])
    console.print(f"{target}: top deciles: {top}")


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="A home omni demo made (else one is generated).")
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--horizon-days", type=int, default=30)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home
        if home is None:
            home = Path(scratch) / "home"
            started = time.perf_counter()
            evaluation_home(home, people=args.people, days=args.days, seed=args.seed)
            console.print(f"demo generated and resolved in {time.perf_counter() - started:.0f} s")
        with Platform.open(home) as platform:
            for target in TARGETS:
                started = time.perf_counter()
                trained = platform.propensity.train_model(target, horizon_days=args.horizon_days)
                seconds = time.perf_counter() - started
                _print(console, target, trained.metrics, trained.split)
                console.print(f"{target}: trained and scored in {seconds:.1f} s")
    load = os.getloadavg()
    console.print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
