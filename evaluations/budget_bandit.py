"""The budget bandit's regret, simulated: Thompson sampling (Gamma-Poisson on conversions
per unit spent) across campaigns of known rates, against an equal split and the oracle.

Each run has arms whose true conversion rates per yuan are drawn once (seeded); every day
the bandit splits the daily budget from what it has seen so far and conversions arrive
Poisson with the true rates. Regret is expected conversions short of the oracle (the whole
budget on the best arm) summed over the days. Printed per arm count: the mean over seeds
of the oracle's conversions, the bandit's and the equal split's regret, and the bandit's
share of the equal split's regret.

    python evaluations/budget_bandit.py [--days 60] [--seeds 10] [--budget 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from omnichannel.budget.bandit import simulate

console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=float, default=1000.0)
    parser.add_argument("--floor", type=float, default=0.02)
    args = parser.parse_args()
    table = Table(
        title=f"{args.days} days, daily budget {args.budget:g}, floor {args.floor}, "
        f"mean of {args.seeds} seeds"
    )
    for column in ("arms", "oracle", "regret bandit", "regret equal", "bandit / equal"):
        table.add_column(column, justify="right")
    table.add_column("bandit regret, first / last 10 days", justify="right")
    for arms in (3, 5, 10):
        runs, early, late = [], [], []
        for seed in range(args.seeds):
            rates = np.random.default_rng(1000 + seed).uniform(0.005, 0.03, size=arms)
            result = simulate(
                rates, days=args.days, budget=args.budget, seed=seed, floor=args.floor
            )
            runs.append(result)
            first = simulate(rates, days=10, budget=args.budget, seed=seed, floor=args.floor)
            early.append(first["regret_bandit"])
            whole_less_last = simulate(
                rates, days=args.days - 10, budget=args.budget, seed=seed, floor=args.floor
            )
            late.append(result["regret_bandit"] - whole_less_last["regret_bandit"])
        oracle = np.mean([r["oracle"] for r in runs])
        bandit = np.mean([r["regret_bandit"] for r in runs])
        equal = np.mean([r["regret_equal"] for r in runs])
        table.add_row(
            str(arms),
            f"{oracle:.1f}",
            f"{bandit:.1f}",
            f"{equal:.1f}",
            f"{bandit / equal:.2f}",
            f"{np.mean(early):.1f} / {np.mean(late):.1f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
