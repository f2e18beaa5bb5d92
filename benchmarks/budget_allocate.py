"""Budget allocation for 8 channels with 500 draws, beside a plain scipy call.

Issue 15's target: the allocation in under 2 s. The curves are known (five concave, three
S-shaped, so a single start can be trapped), with 500 draws around them for the interval
and a change limit of 30% from a current split. Ours is ``budget.allocate.allocate``
(SLSQP with analytic gradients from 8 starts, then every draw's outcome of the split);
the baseline, in the same process on the same curves, is the plain call: one SLSQP from an
equal split with finite-difference gradients over ``ResponseModel.outcome``, then the
interval by ``outcome`` per draw. Printed: each one's time, the ratio ours / baseline, and
the effect each split buys (ours must buy at least as much).

    python benchmarks/budget_allocate.py [--draws 500] [--repeat 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.optimize import minimize

from omnichannel.budget.allocate import allocate
from omnichannel.mmm.curves import ChannelCurve, ResponseModel

CHANNELS = ("search", "social", "display", "video", "email", "sms", "wechat", "flyer")
SHAPES = (1.0, 1.2, 0.8, 2.5, 0.9, 3.0, 1.1, 2.0)


def model_of(draws: int, seed: int) -> tuple[ResponseModel, dict[str, float]]:
    rng = np.random.default_rng(seed)
    curves = tuple(
        ChannelCurve(
            channel,
            decay=float(rng.uniform(0.1, 0.7)),
            half=float(rng.uniform(1000, 6000)),
            shape=shape,
            top=float(rng.uniform(100, 800)),
        )
        for channel, shape in zip(CHANNELS, SHAPES, strict=True)
    )
    alternatives = tuple(
        tuple(
            ChannelCurve(
                c.channel,
                c.decay,
                c.half * float(rng.lognormal(0, 0.15)),
                c.shape,
                c.top * float(rng.lognormal(0, 0.15)),
            )
            for c in curves
        )
        for _ in range(draws)
    )
    current = {c: float(rng.uniform(1000, 4000)) for c in CHANNELS}
    return ResponseModel("orders", "day", curves, 500.0, alternatives, 60.0), current


def baseline(
    model: ResponseModel, total: float, current: dict[str, float], change: float | None
) -> tuple[float, float]:
    """The plain scipy call: one start, numeric gradients; the interval by a loop."""
    now = np.array([current[c] for c in model.channels])
    if change is None:
        bounds = [(0.0, total) for _ in now]
    else:
        bounds = [((1 - change) * x, (1 + change) * x) for x in now]
    result = minimize(
        lambda x: -model.outcome(x),
        np.full(len(now), total / len(now)),
        method="SLSQP",
        bounds=bounds,
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - total}],
        options={"maxiter": 300},
    )
    outcomes = [
        ResponseModel(model.target, model.period, draw, 0.0).outcome(result.x)
        for draw in model.draws
    ]
    np.quantile(outcomes, [0.05, 0.95])
    return model.outcome(result.x), float(result.fun)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    model, current = model_of(args.draws, args.seed)
    total = sum(current.values())
    print(
        f"load average {os.getloadavg()[0]:.1f}; 8 channels, {args.draws} draws, total {total:,.0f}"
    )
    for change in (0.3, None):
        ours_s, base_s = [], []
        ours_effect = base_effect = 0.0
        for _ in range(args.repeat):
            began = time.perf_counter()
            answer = allocate(model, total=total, current=current, max_change=change)
            ours_s.append(time.perf_counter() - began)
            ours_effect = answer["outcome"]["effect"]
            began = time.perf_counter()
            base_effect, _ = baseline(model, total, current, change)
            base_s.append(time.perf_counter() - began)
        ours, base = min(ours_s), min(base_s)
        out = answer["outcome"]
        print(f"-- change limit {change}")
        print(f"ours (8 starts, analytic gradients, interval): {ours:.3f} s (target < 2 s)")
        print(f"plain scipy (1 start, numeric gradients, interval loop): {base:.3f} s")
        print(f"ratio ours / plain: {ours / base:.2f}")
        print(
            f"effect per day: ours {ours_effect:,.2f} ({out['effect_low']:,.2f} - "
            f"{out['effect_high']:,.2f}), plain {base_effect:,.2f}; "
            f"ours - plain = {ours_effect - base_effect:+,.3f}"
        )
        held = {r["channel"]: r["held"] for r in answer["channels"]}
        print(f"held: {held}")


if __name__ == "__main__":
    main()
