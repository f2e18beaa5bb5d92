"""CLV models on CDNOW: our estimates beside the published ones, and the holdout score.

Run: ``.venv/bin/python evaluations/clv_cdnow.py``

Reference figures: Fader, Hardie & Lee (2005), "Counting your customers the easy way"
(BG/NBD, weekly, 39-week calibration from 1997-01-01) and "RFM and CLV" (Gamma-Gamma).
The holdout score is the mean absolute error of per-customer repeat purchases in weeks
40-78, against the baseline "each customer keeps buying at her calibration rate x / T".
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from omnichannel.profiles.clv import TransactionColumns, fit_summary, summarise
from omnichannel.profiles.clv.transactions import clean_transactions

DATA = Path(__file__).resolve().parents[1] / "tests" / "profiles" / "data" / "CDNOW_sample.txt"
PUBLISHED = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "BG/NBD log-likelihood": -9582.4,
    "p": 6.25,
    "q": 3.74,
    "gamma": 15.44,
    # Not in the paper: the reference value of CLVTools' correctness test for this fit.
    "Gamma-Gamma log-likelihood": -4055.9177,
}


def main() -> None:
    console = Console()
    raw = pd.read_csv(
        DATA,
        sep=r"\s+",
        header=None,
        dtype=str,
        names=["master", "customer", "date", "cds", "amount"],
    )
    started = time.perf_counter()
    transactions = clean_transactions(
        raw[["customer", "date", "amount"]], TransactionColumns("customer", "date", "amount")
    )
    summary = summarise(
        transactions, calibration_end="1997-09-30", holdout_end="1998-06-30", freq="W"
    )
    fitting = time.perf_counter()
    fit = fit_summary(summary)
    finished = time.perf_counter()
    seconds, fit_seconds = finished - started, finished - fitting

    ours = {
        **fit.bgnbd.as_dict(),
        "BG/NBD log-likelihood": fit.bgnbd.log_likelihood,
        **fit.gamma_gamma.as_dict(),
        "Gamma-Gamma log-likelihood": fit.gamma_gamma.log_likelihood,
    }
    params = Table(title="CDNOW: our estimates against the published ones", title_justify="left")
    for column in ("parameter", "ours", "published", "difference"):
        params.add_column(column, justify="left" if column == "parameter" else "right")
    for name, published in PUBLISHED.items():
        value = ours[name]
        params.add_row(name, f"{value:.4f}", f"{published:g}", f"{value - published:+.4f}")
    console.print(params)

    check = fit.holdout
    assert check is not None
    buckets = Table(
        title="Holdout (weeks 40-78): repeat purchases per customer", title_justify="left"
    )
    for column in ("calibration x", "customers", "actual", "predicted"):
        buckets.add_column(column, justify="right")
    for row in check.buckets.itertuples():
        buckets.add_row(
            str(row.bucket),
            str(row.customers),
            f"{row.actual_mean:.3f}",
            f"{row.predicted_mean:.3f}",
        )
    console.print(buckets)

    score = Table(title="Holdout score", title_justify="left", show_header=False)
    score.add_row("repeat purchases, actual", f"{check.actual:,}")
    score.add_row(
        "repeat purchases, predicted", f"{check.predicted:,.1f} ({check.relative_error:+.1%})"
    )
    score.add_row(
        "cumulative weeks 1-78, actual / predicted",
        f"{check.cumulative_actual:,} / {check.cumulative_predicted:,.1f} "
        f"({check.cumulative_relative_error:+.1%})",
    )
    score.add_row("MAE per customer, BG/NBD", f"{check.mae:.3f}")
    score.add_row("MAE per customer, calibration-rate baseline", f"{check.mae_baseline:.3f}")
    score.add_row("MAE ratio (model / baseline)", f"{check.mae / check.mae_baseline:.3f}")
    score.add_row("clean + summarise + fit (+ holdout check)", f"{seconds:.2f} s")
    score.add_row("of which the two fits and the holdout check", f"{fit_seconds:.3f} s")
    console.print(score)


if __name__ == "__main__":
    main()
