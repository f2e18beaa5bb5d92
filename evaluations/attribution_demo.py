"""Which attribution model comes closest to the demo's true channel effects?

Run: ``.venv/bin/python evaluations/attribution_demo.py [--people 5000] [--days 120]
[--seed 7] [--lookback-days 30]`` (or ``--home H`` for a home ``omni demo`` made:
identities resolved, truth in H/truth).

The demo knows what each of its nine marketing channels really caused:
``truth/channel_daily.parquet`` holds each channel's expected incremental orders per day
(adstock, then a Hill saturation curve, times the channel's conversion rate; see
docs/demo.md). Every model here credits the warehouse's real orders to the touches
before them, on the same person-level paths (one profile per person, online and store).

Models credit every conversion, the ones marketing did not cause included, and also
credit ``direct`` and ``store``, which no spend buys; the truth counts only incremental
orders. So both are compared as **shares among the nine marketing channels**: the error
of a model is the mean over channels of |model share - true share| (mean absolute share
error, MASE here), in percentage points. Baselines: each channel's share of the spend
(what a budget split by spend assumes), and equal shares.

Conversions are taken from ``--lookback-days`` after the first day (so every one has a
full lookback window) to the end of the history.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from omnichannel.analytics.attribution.service import attribute
from omnichannel.analytics.attribution.touches import spend_by_channel
from omnichannel.demo.evaluation import evaluation_home
from omnichannel.platform import Platform

MODELS = (
    ("first_touch", {}),
    ("last_touch", {}),
    ("last_non_direct", {}),
    ("linear", {}),
    ("time_decay", {"half_life": 7.0}),
    ("position_based", {}),
    ("markov", {"order": 1}),
    ("markov", {"order": 2}),
    ("markov", {"order": 3}),
    ("shapley", {}),
)


def _shares(values: dict[str, float], channels: list[str]) -> np.ndarray:
    v = np.array([max(values.get(c, 0.0), 0.0) for c in channels])
    return v / v.sum() if v.sum() > 0 else np.full(len(channels), 1 / len(channels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lookback-days", type=float, default=30.0)
    args = parser.parse_args()
    console = Console(width=200)
    started = time.perf_counter()
    home = args.home
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="attribution-demo-")) / "home"
        console.print(f"generating a {args.people:,}-person, {args.days}-day demo in {home}")
        evaluation_home(home, people=args.people, days=args.days, seed=args.seed)

    daily = pq.read_table(home / "truth" / "channel_daily.parquet")
    first_day = pc.min(daily["date"]).as_py()
    since = first_day + timedelta(days=int(args.lookback_days))
    daily = daily.filter(pc.greater_equal(daily["date"], since))
    truth: dict[str, float] = {}
    for row in daily.group_by("channel").aggregate([("incremental_orders", "sum")]).to_pylist():
        truth[row["channel"]] = row["incremental_orders_sum"]
    channels = sorted(truth)
    true_shares = _shares(truth, channels)

    with Platform.open(home) as platform:
        t0 = time.perf_counter()
        paths, untouched = platform.attribution.paths(lookback_days=args.lookback_days, since=since)
        path_seconds = time.perf_counter() - t0
        with platform.warehouse.reader() as wh:
            spend = spend_by_channel(wh, since=None if since is None else _midnight(since))
            people = wh.table("record_profiles").profile_id.nunique().to_pyarrow().as_py()

    console.print(
        f"{people:,} profiles; {paths.n_paths:,} person paths "
        f"({int((paths.conversions > 0).sum()):,} converting, {paths.nulls.sum():,.0f} nulls), "
        f"{untouched:,} orders with no touch in {args.lookback_days:g} days; "
        f"paths built in {path_seconds:.1f} s; conversions from {since}; "
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    table = Table(
        title="share of the nine marketing channels' credit vs the true incremental orders"
    )
    table.add_column("model")
    for c in channels:
        table.add_column(c, justify="right")
    table.add_column("MASE (pp)", justify="right")
    table.add_column("s", justify="right")
    table.add_row("truth", *[f"{s:.1%}" for s in true_shares], "", "")
    scores: list[tuple[float, str]] = []
    for model, params in MODELS:
        t0 = time.perf_counter()
        credit = attribute(paths, model, **params)  # type: ignore[arg-type]
        seconds = time.perf_counter() - t0
        credited = {c: v[0] for c, v in credit.by_channel().items()}
        shares = _shares(credited, channels)
        error = float(np.abs(shares - true_shares).mean()) * 100
        label = model + (f" (order {params['order']})" if "order" in params else "")
        scores.append((error, label))
        table.add_row(label, *[f"{s:.1%}" for s in shares], f"{error:.2f}", f"{seconds:.2f}")
    for label, shares in (
        ("baseline: spend share", _shares(spend, channels)),
        ("baseline: equal shares", np.full(len(channels), 1 / len(channels))),
    ):
        error = float(np.abs(shares - true_shares).mean()) * 100
        scores.append((error, label))
        table.add_row(label, *[f"{s:.1%}" for s in shares], f"{error:.2f}", "")
    console.print(table)
    best = min(scores)
    console.print(
        f"closest: {best[1]} (MASE {best[0]:.2f} percentage points); "
        f"ranking: " + ", ".join(f"{label} {e:.2f}" for e, label in sorted(scores))
    )
    console.print(f"total {time.perf_counter() - started:.0f} s")


def _midnight(day):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime(day.year, day.month, day.day)


if __name__ == "__main__":
    main()
