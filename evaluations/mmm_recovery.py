"""Does the marketing-mix model recover what really drove sales? Simulated data and the demo.

Run: ``.venv/bin/python evaluations/mmm_recovery.py [--days 1095] [--channels 8]
[--seed 1] [--bootstrap 30] [--bayes] [--bayes-draws 300] [--demo-people 20000]
[--demo-days 365] [--demo-home H] [--no-demo] [--no-simulated] [--demo]``
(``--demo``: only the demo business; with ``--demo-home`` a home generated before)

1. **Simulated** (``omnichannel.mmm.simulate``): daily sales with a known decay, half,
   shape and top per channel. Printed per channel: true vs recovered decay, ROI
   (contribution / spend) and share of the paid contribution, for the fast fit and, with
   ``--bayes`` (PyMC-Marketing installed), the Bayesian one.
2. **The demo business** (``omni demo``'s generator into a fresh warehouse, or
   ``--demo-home`` for a home it made): the warehouse's ad spend and daily orders are
   fitted as ``omni mmm fit`` does, and scored against ``truth/channel_effects.parquet``
   (decay) and ``truth/channel_daily.parquet`` (expected incremental orders, so the true
   ROI is orders per CNY and the true share is among the nine channels).

The summary lines are the mean absolute error of decay and share, and the median
relative error of ROI, over channels.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from omnichannel.mmm.data import from_warehouse
from omnichannel.mmm.fit import fit
from omnichannel.mmm.simulate import simulate

console = Console(width=160)


def _recovered(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {
        r["channel"]: {k: r[k]["value"] for k in ("decay", "roi", "share")}
        for r in report["channels"]
    }


def _score(
    title: str, truth: dict[str, dict[str, float]], fits: dict[str, dict[str, dict[str, float]]]
) -> None:
    table = Table(title=title)
    table.add_column("channel")
    for name in ("decay", "ROI", "share"):
        table.add_column(f"true {name}", justify="right")
        for method in fits:
            table.add_column(f"{method} {name}", justify="right")
    for channel, true in truth.items():
        cells = [channel]
        for key in ("decay", "roi", "share"):
            cells.append(_fmt(true[key], key))
            cells += [_fmt(fits[m][channel][key], key) for m in fits]
        table.add_row(*cells)
    console.print(table)
    for method, found in fits.items():
        decay = np.mean([abs(found[c]["decay"] - t["decay"]) for c, t in truth.items()])
        share = np.mean([abs(found[c]["share"] - t["share"]) for c, t in truth.items()])
        roi = np.median(
            [abs(found[c]["roi"] - t["roi"]) / t["roi"] for c, t in truth.items() if t["roi"] > 0]
        )
        console.print(
            f"{title} / {method}: decay MAE {decay:.3f}, share MAE {share * 100:.1f} pp, "
            f"ROI median relative error {roi:.1%}"
        )


def _fmt(value: float, key: str) -> str:
    return f"{value:.1%}" if key == "share" else f"{value:.4g}"


def _fits(data: Any, args: argparse.Namespace) -> dict[str, dict[str, dict[str, float]]]:
    out = {}
    started = time.perf_counter()
    fast = fit(data, bootstrap=args.bootstrap, jobs=args.jobs)
    report = fast.report()
    console.print(
        f"fast fit: {time.perf_counter() - started:.1f} s, held-out MAPE "
        f"{report['fit']['holdout']['mape']}, in-sample R2 {report['fit']['in_sample']['r2']}"
    )
    out["fast"] = _recovered(report)
    if args.bayes:
        started = time.perf_counter()
        bayes = fit(data, method="bayes", draws=args.bayes_draws, tune=args.bayes_draws)
        report = bayes.report()
        console.print(
            f"bayes fit: {time.perf_counter() - started:.1f} s, held-out MAPE "
            f"{report['fit']['holdout']['mape']}, divergences {report['options']['divergences']}"
        )
        out["bayes"] = _recovered(report)
    return out


def simulated(args: argparse.Namespace) -> None:
    sim = simulate(days=args.days, channels=args.channels, seed=args.seed)
    t = sim.truth
    truth = {
        c: {"decay": t["decay"][k], "roi": t["roi"][k], "share": t["share"][k]}
        for k, c in enumerate(t["channels"])
    }
    _score(f"simulated, {args.days} days x {args.channels} channels", truth, _fits(sim.data, args))


def demo(args: argparse.Namespace) -> None:
    from omnichannel.demo import DemoConfig, run_demo
    from omnichannel.warehouse.store import open_warehouse

    with tempfile.TemporaryDirectory() as scratch:
        home = args.demo_home or Path(scratch) / "home"
        if args.demo_home is None:
            home.mkdir(parents=True)
            started = time.perf_counter()
            with open_warehouse(f"duckdb:///{home / 'omni.duckdb'}") as wh:
                run_demo(
                    warehouse=wh,
                    truth_dir=home / "truth",
                    config=DemoConfig(
                        seed=args.seed,
                        people=args.demo_people,
                        days=args.demo_days,
                        start=date.today() - timedelta(days=args.demo_days + 2),
                    ),
                )
            console.print(f"demo generated in {time.perf_counter() - started:.0f} s")
        with open_warehouse(f"duckdb:///{home / 'omni.duckdb'}") as wh:
            data = from_warehouse(wh, target="orders")
        effects = pq.read_table(home / "truth" / "channel_effects.parquet").to_pylist()
        daily = pq.read_table(home / "truth" / "channel_daily.parquet").to_pandas()
    first, last = str(data.dates[0]), str(data.dates[-1])
    daily = daily[(daily["date"].astype(str) >= first) & (daily["date"].astype(str) <= last)]
    sums = daily.groupby("channel")[["spend", "incremental_orders"]].sum()
    total = float(sums.loc[list(data.channels), "incremental_orders"].sum())
    decay = {e["channel"]: e["decay"] for e in effects}
    truth = {
        c: {
            "decay": decay[c],
            "roi": float(sums.loc[c, "incremental_orders"] / sums.loc[c, "spend"]),
            "share": float(sums.loc[c, "incremental_orders"]) / total,
        }
        for c in data.channels
    }
    console.print(
        f"demo: {data.periods} days, {data.target.sum():,.0f} orders, of which "
        f"{total:,.0f} expected incremental from paid channels"
    )
    _score(f"demo business ({args.demo_people} people)", truth, _fits(data, args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bootstrap", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--bayes", action="store_true")
    parser.add_argument("--bayes-draws", type=int, default=300)
    parser.add_argument("--demo-people", type=int, default=20000)
    parser.add_argument("--demo-days", type=int, default=365)
    parser.add_argument("--demo-home", type=Path)
    parser.add_argument("--no-demo", action="store_true")
    parser.add_argument("--no-simulated", action="store_true")
    parser.add_argument("--demo", action="store_true", help="only the demo business")
    args = parser.parse_args()
    if not args.no_simulated and not args.demo:
        simulated(args)
    if not args.no_demo:
        demo(args)


if __name__ == "__main__":
    main()
