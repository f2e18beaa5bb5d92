"""The budget split that best serves a goal along fitted response curves (C12, issue 15.3).

For a total per period and a goal, with per-channel minimums, maximums and a limit on
the change from current spend, ``allocate`` finds the split by SLSQP with analytic
gradients (``ChannelCurve.marginal``), from several starts so that an S-shaped curve
(Hill shape > 1, whose first units return little) does not trap it at a poor local
optimum, and keeps the best feasible answer. The expected outcome's interval is the
spread of the same split's outcome over the model's draws.

Goals (effects are the model's target units per period, above the baseline):

- ``conversions``: the most effect for exactly the total;
- ``revenue``: the most revenue (effect x ``value_per_unit``, or the effect itself for a
  revenue model) for exactly the total;
- ``cpa``: the lowest cost per incremental unit, spending at most the total, with at
  least ``volume`` units of effect;
- ``roas``: the most revenue, spending at most the total, with revenue / spend of at
  least ``target_roas``.

At the optimum of the first two, every channel not held by a limit has the same marginal
return (the Lagrange multiplier ``equal_marginal``); a channel held at its maximum returns
at least that on its next unit, one held at its minimum at most that.

Example::

    from omnichannel.budget.allocate import allocate

    plan = allocate(model, total=10_000, goal="conversions", max_change=0.3,
                    current={"search": 4000, "social": 3000, "video": 3000})
    plan["channels"][0]  # {"channel": "search", "current": 4000, "recommended": ..., ...}
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnichannel.errors import ValidationError
from omnichannel.mmm.curves import ChannelCurve, ResponseModel

GOALS = ("conversions", "revenue", "cpa", "roas")
REVENUE_TARGETS = frozenset({"revenue", "sales", "gmv"})
DEFAULT_STARTS = 8
DEFAULT_INTERVAL = 0.9
# Within this share of the total, a channel counts as held by its limit.
BOUND_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Limits:
    """Per-channel spend bounds per period, after minimums, maximums and change limits."""

    channels: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    why_low: tuple[str, ...]
    why_high: tuple[str, ...]


def _number(field: str, value: Any, *, positive: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(field, value, "a number") from None
    if not np.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValidationError(field, value, "a positive number" if positive else "a number >= 0")
    return number


def _per_channel(
    name: str, values: Mapping[str, Any] | None, channels: Sequence[str]
) -> dict[str, float]:
    known = ", ".join(channels)
    out: dict[str, float] = {}
    for channel, value in (values or {}).items():
        if channel not in channels:
            raise ValidationError(f"{name}.{channel}", value, f"a channel of the model: {known}")
        out[channel] = _number(f"{name}.{channel}", value)
    return out


def limits_of(
    channels: Sequence[str],
    *,
    current: Mapping[str, float],
    minimum: Mapping[str, Any] | None = None,
    maximum: Mapping[str, Any] | None = None,
    max_change: float | None = None,
    total: float,
) -> Limits:
    """Each channel's bounds, refusing a channel whose limits leave it no spend to pick."""
    lows = _per_channel("min", minimum, channels)
    highs = _per_channel("max", maximum, channels)
    change = None if max_change is None else _number("max_change", max_change)
    low, high, why_low, why_high = [], [], [], []
    for channel in channels:
        lo, lo_why = lows.get(channel, 0.0), f"min {channel}={lows.get(channel, 0.0):g}"
        hi, hi_why = highs.get(channel, total), f"max {channel}={highs.get(channel, total):g}"
        if channel not in highs:
            hi_why = f"the total {total:g}"
        if change is not None:
            now = float(current.get(channel, 0.0))
            if now * (1 - change) > lo:
                lo, lo_why = now * (1 - change), f"current {channel} {now:g} - {change:.0%}"
            if now * (1 + change) < hi:
                hi, hi_why = now * (1 + change), f"current {channel} {now:g} + {change:.0%}"
        if lo > hi + 1e-9:
            raise ValidationError(
                f"min.{channel}",
                round(lo, 2),
                f"a spend the channel's other limits allow: {lo_why} is above {hi_why}",
            )
        low.append(lo)
        high.append(max(hi, lo))
        why_low.append(lo_why)
        why_high.append(hi_why)
    return Limits(tuple(channels), np.array(low), np.array(high), tuple(why_low), tuple(why_high))


class _Curves:
    """The curves as arrays, so a split's response and gradient are one numpy expression
    each (the same formulas as ``ChannelCurve.response`` and ``.marginal``)."""

    def __init__(self, curves: Sequence[ChannelCurve]) -> None:
        self.curves = tuple(curves)
        self.decay = np.array([c.decay for c in curves])
        self.half = np.array([c.half for c in curves])
        self.shape = np.array([c.shape for c in curves])
        self.top = np.array([c.top for c in curves])

    def effects(self, x: np.ndarray) -> np.ndarray:
        level = np.power(np.maximum(x, 0.0) / (1.0 - self.decay), self.shape)
        return np.asarray(self.top * level / (level + self.half**self.shape))

    def marginals(self, x: np.ndarray) -> np.ndarray:
        steady = np.maximum(x, 1e-12) / (1.0 - self.decay)
        k, s = self.half, self.shape
        d_hill = self.top * s * k**s * steady ** (s - 1) / (steady**s + k**s) ** 2
        return np.asarray(d_hill / (1.0 - self.decay))


def _project(start: np.ndarray, low: np.ndarray, high: np.ndarray, total: float) -> np.ndarray:
    """The split nearest ``start`` within the bounds that adds up to ``total`` (bisection
    on a shift: ``clip(start + shift, low, high)`` sums monotonically in the shift)."""
    lo_shift, hi_shift = -float(start.max() + total + 1), float(total + 1)
    for _ in range(100):
        mid = (lo_shift + hi_shift) / 2
        if np.clip(start + mid, low, high).sum() < total:
            lo_shift = mid
        else:
            hi_shift = mid
    return np.asarray(np.clip(start + hi_shift, low, high))


def _greedy(curves: _Curves, low: np.ndarray, high: np.ndarray, total: float) -> np.ndarray:
    """Spend in small steps, each where it buys the most next: a start near the optimum of
    concave curves, and one that has already crossed an S-curve's threshold if worth it."""
    x = low.copy()
    steps = 64
    step = max(total - x.sum(), 0.0) / steps
    for _ in range(steps):
        room = high - x
        gains = curves.effects(x + np.minimum(step, room)) - curves.effects(x)
        gains[room <= 0] = -np.inf
        if not np.isfinite(gains).any():
            break
        best = int(np.argmax(gains))
        x[best] += min(step, room[best])
    return x


def _starts(
    curves: _Curves, limits: Limits, total: float, current: np.ndarray, count: int, seed: int
) -> list[np.ndarray]:
    low, high = limits.low, limits.high
    n = len(low)
    starts = [_greedy(curves, low, high, total), _project(np.full(n, total / n), low, high, total)]
    if current.sum() > 0:
        starts.append(_project(current * total / current.sum(), low, high, total))
    rng = np.random.default_rng(seed)
    while len(starts) < max(count, 2):
        starts.append(_project(rng.dirichlet(np.full(n, 0.5)) * total, low, high, total))
    return starts


def _value_per_unit(model: ResponseModel, goal: str) -> float:
    if model.target.lower() in REVENUE_TARGETS:
        if goal in ("conversions", "cpa"):
            raise ValidationError(
                "goal",
                goal,
                f"revenue or roas: this model's target is {model.target}, not a count of "
                "conversions",
            )
        return 1.0
    if goal in ("revenue", "roas"):
        if model.value_per_unit is None:
            raise ValidationError(
                "goal",
                goal,
                f"conversions or cpa: this model counts {model.target} and says nothing of "
                "their value (value_per_unit)",
            )
        return float(model.value_per_unit)
    return float(model.value_per_unit or 1.0)


def _solve(
    curves: _Curves,
    limits: Limits,
    *,
    goal: str,
    total: float,
    value: float,
    volume: float | None,
    target_roas: float | None,
    starts: list[np.ndarray],
) -> tuple[np.ndarray, int, int]:
    """The best split from the starts (in units of the total, so SLSQP sees numbers near 1)."""
    scale = total
    bounds = list(zip(limits.low / scale, limits.high / scale, strict=True))
    effect_scale = max(float(curves.effects(starts[0]).sum()), 1e-9)
    if goal in ("conversions", "revenue"):

        def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
            x = u * scale
            return (
                -float(curves.effects(x).sum()) / effect_scale,
                -curves.marginals(x) * scale / effect_scale,
            )

        constraints: list[dict[str, Any]] = [
            {"type": "eq", "fun": lambda u: u.sum() - 1.0, "jac": lambda u: np.ones_like(u)}
        ]
    elif goal == "cpa":

        def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
            x = u * scale
            effect = max(float(curves.effects(x).sum()), 1e-12)
            spend = float(x.sum())
            grad = (effect - spend * curves.marginals(x)) / effect**2
            ratio = effect_scale / scale  # CPA in units of the start's CPA
            return spend / effect * ratio, grad * scale * ratio

        floor = float(volume or 0.0)
        constraints = [
            {"type": "ineq", "fun": lambda u: 1.0 - u.sum(), "jac": lambda u: -np.ones_like(u)},
            {
                "type": "ineq",
                "fun": lambda u: (curves.effects(u * scale).sum() - floor) / effect_scale,
                "jac": lambda u: curves.marginals(u * scale) * scale / effect_scale,
            },
        ]
    else:  # roas

        def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
            x = u * scale
            return (
                -float(curves.effects(x).sum()) / effect_scale,
                -curves.marginals(x) * scale / effect_scale,
            )

        floor_roas = float(target_roas or 0.0)
        constraints = [
            {"type": "ineq", "fun": lambda u: 1.0 - u.sum(), "jac": lambda u: -np.ones_like(u)},
            {
                "type": "ineq",
                "fun": lambda u: (
                    (value * curves.effects(u * scale).sum() - floor_roas * (u * scale).sum())
                    / effect_scale
                ),
                "jac": lambda u: (
                    (value * curves.marginals(u * scale) - floor_roas) * scale / effect_scale
                ),
            },
        ]
    # scipy on use: the /budget page imports this module for GOALS, and scipy.optimize is
    # a third of a second of the server's start.
    from scipy.optimize import minimize

    best: tuple[float, np.ndarray] | None = None
    iterations = 0
    for start in starts:
        result = minimize(
            objective,
            start / scale,
            jac=True,
            method="SLSQP",
            bounds=bounds,
            constraints=constraints,
            options={"maxiter": 300, "ftol": 1e-10},
        )
        iterations += int(result.nit)
        u = np.clip(result.x, limits.low / scale, limits.high / scale)
        if not all(c["fun"](u) >= -1e-6 for c in constraints if c["type"] == "ineq"):
            continue
        if goal in ("conversions", "revenue"):
            u = _project(u * scale, limits.low, limits.high, total) / scale
        score = float(objective(u)[0])
        if best is None or score < best[0]:
            best = (score, u * scale)
    if best is None:
        raise ValidationError("goal", goal, "constraints some split meets (none was found)")
    return best[1], iterations, len(starts)


def _check_reachable(
    curves: _Curves,
    limits: Limits,
    *,
    goal: str,
    total: float,
    value: float,
    volume: float | None,
    target_roas: float | None,
    seed: int,
) -> None:
    """Refuse, naming the limit, a goal no split within the limits can reach."""
    low_sum, high_sum = float(limits.low.sum()), float(limits.high.sum())
    if low_sum > total + 1e-6:
        held = ", ".join(w for w, lo in zip(limits.why_low, limits.low, strict=True) if lo > 0)
        raise ValidationError(
            "total",
            total,
            f"at least {low_sum:,.2f}, what the channels' lower limits add up to ({held})",
        )
    if goal in ("conversions", "revenue") and high_sum < total - 1e-6:
        raise ValidationError(
            "total",
            total,
            f"at most {high_sum:,.2f}, what the channels' upper limits add up to "
            f"({', '.join(limits.why_high)})",
        )
    if goal in ("cpa", "roas"):
        cap = min(total, high_sum)
        most = _greedy(curves, limits.low, limits.high, cap)
        starts = _starts(curves, limits, cap, most, 4, seed)
        fullest, _, _ = _solve(
            curves,
            limits,
            goal="conversions",
            total=cap,
            value=value,
            volume=None,
            target_roas=None,
            starts=starts,
        )
        if goal == "cpa" and volume is not None:
            reachable = float(curves.effects(fullest).sum())
            if reachable < volume - 1e-9:
                raise ValidationError(
                    "volume",
                    volume,
                    f"at most {reachable:,.2f}, the most effect {cap:,.2f} buys within the limits",
                )
        if goal == "roas" and target_roas is not None:
            best_roas = _best_roas(curves, limits, value, cap, seed)
            if best_roas < target_roas - 1e-9:
                raise ValidationError(
                    "target_roas",
                    target_roas,
                    f"at most {best_roas:.3f}, the best return on spend within the limits",
                )


def _best_roas(curves: _Curves, limits: Limits, value: float, cap: float, seed: int) -> float:
    """The highest revenue / spend any split within the limits reaches (at some spend)."""
    best = 0.0
    floor = float(limits.low.sum())
    for share in np.linspace(0.02, 1.0, 25):
        spend = max(floor, share * cap)
        if spend <= 0:
            continue
        x = _greedy(curves, limits.low, limits.high, spend)
        best = max(best, value * float(curves.effects(x).sum()) / max(float(x.sum()), 1e-12))
    return best


def _interval(
    model: ResponseModel, split: np.ndarray, level: float
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per draw, each channel's effect of ``split``: (draws x channels), or None."""
    if not model.draws:
        return None, None
    rows = np.array([_Curves(draw).effects(split) for draw in model.draws])
    return rows, np.array([(1 - level) / 2, (1 + level) / 2])


def _quantiles(
    values: np.ndarray | None, q: np.ndarray | None
) -> tuple[float | None, float | None]:
    if values is None or q is None:
        return None, None
    low, high = np.quantile(values, q)
    return float(low), float(high)


def check_goal(
    goal: str, total: float, volume: float | None, target_roas: float | None
) -> tuple[float, float | None, float | None]:
    """The goal and its numbers checked, before any model is looked up: a wrong goal is
    named as such, not hidden behind "no response model yet"."""
    if goal not in GOALS:
        raise ValidationError("goal", goal, f"one of {', '.join(GOALS)}")
    total = _number("total", total, positive=True)
    if goal == "cpa" and volume is None:
        raise ValidationError("volume", volume, "the effect per period to reach at least, for cpa")
    if goal == "roas" and target_roas is None:
        raise ValidationError("target_roas", target_roas, "the revenue / spend to keep, for roas")
    if volume is not None:
        volume = _number("volume", volume)
    if target_roas is not None:
        target_roas = _number("target_roas", target_roas, positive=True)
    return total, volume, target_roas


def allocate(
    model: ResponseModel,
    *,
    total: float,
    goal: str = "conversions",
    current: Mapping[str, float] | None = None,
    minimum: Mapping[str, Any] | None = None,
    maximum: Mapping[str, Any] | None = None,
    max_change: float | None = None,
    volume: float | None = None,
    target_roas: float | None = None,
    starts: int = DEFAULT_STARTS,
    interval: float = DEFAULT_INTERVAL,
    seed: int = 0,
) -> dict[str, Any]:
    """The split of ``total`` per period that best serves ``goal``, JSON-ready."""
    began = time.perf_counter()
    total, volume, target_roas = check_goal(goal, total, volume, target_roas)
    if not 0 < interval < 1:
        raise ValidationError("interval", interval, "a probability between 0 and 1, e.g. 0.9")
    channels = model.channels
    now = {c: float(v) for c, v in _per_channel("current", current, channels).items()}
    value = _value_per_unit(model, goal)
    limits = limits_of(
        channels, current=now, minimum=minimum, maximum=maximum, max_change=max_change, total=total
    )
    curves = _Curves(model.curves)
    _check_reachable(
        curves,
        limits,
        goal=goal,
        total=total,
        value=value,
        volume=volume,
        target_roas=target_roas,
        seed=seed,
    )
    current_split = np.array([now.get(c, 0.0) for c in channels])
    split, iterations, tried = _solve(
        curves,
        limits,
        goal=goal,
        total=total,
        value=value,
        volume=volume,
        target_roas=target_roas,
        starts=_starts(curves, limits, total, current_split, starts, seed),
    )
    return _report(
        model,
        goal=goal,
        total=total,
        value=value,
        split=split,
        current=current_split if now else None,
        limits=limits,
        level=interval,
        solver={
            "method": "SLSQP",
            "starts": tried,
            "iterations": iterations,
            "seconds": round(time.perf_counter() - began, 4),
        },
        asked={
            "volume": volume,
            "target_roas": target_roas,
            "max_change": max_change,
            "min": dict(minimum or {}),
            "max": dict(maximum or {}),
        },
    )


def _report(
    model: ResponseModel,
    *,
    goal: str,
    total: float,
    value: float,
    split: np.ndarray,
    current: np.ndarray | None,
    limits: Limits,
    level: float,
    solver: dict[str, Any],
    asked: dict[str, Any],
) -> dict[str, Any]:
    curves = _Curves(model.curves)
    effects = curves.effects(split)
    marginals = curves.marginals(split)
    tolerance = BOUND_TOLERANCE * total
    held = []
    for x, lo, hi in zip(split, limits.low, limits.high, strict=True):
        held.append("max" if x >= hi - tolerance else "min" if x <= lo + tolerance else "free")
    free = [m for m, h in zip(marginals, held, strict=True) if h == "free"]
    draws, q = _interval(model, split, level)
    now_effects = None if current is None else curves.effects(current)
    now_draws, _ = (None, None) if current is None else _interval(model, current, level)
    rows = []
    for i, channel in enumerate(model.channels):
        low, high = _quantiles(None if draws is None else draws[:, i], q)
        rows.append(
            {
                "channel": channel,
                "current": None if current is None else round(float(current[i]), 2),
                "recommended": round(float(split[i]), 2),
                "change": None if current is None else round(float(split[i] - current[i]), 2),
                "effect": float(effects[i]),
                "effect_low": low,
                "effect_high": high,
                "current_effect": None if now_effects is None else float(now_effects[i]),
                "marginal": float(marginals[i]),
                "roi": float(effects[i] * value / split[i]) if split[i] > 0 else None,
                "held": held[i],
                "lower_limit": round(float(limits.low[i]), 2),
                "upper_limit": round(float(limits.high[i]), 2),
            }
        )
    paid = float(effects.sum())
    spend = float(split.sum())
    paid_low, paid_high = _quantiles(None if draws is None else draws.sum(axis=1), q)
    outcome: dict[str, Any] = {
        "spend": round(spend, 2),
        "effect": paid,
        "effect_low": paid_low,
        "effect_high": paid_high,
        "baseline": float(model.baseline_per_period),
        "total": float(model.baseline_per_period) + paid,
        "revenue": paid * value if (value != 1.0 or model.target in REVENUE_TARGETS) else None,
        "cpa": spend / paid if paid > 0 else None,
        "roas": paid * value / spend if spend > 0 else None,
    }
    if current is not None and now_effects is not None:
        uplift_low, uplift_high = _quantiles(
            None if draws is None or now_draws is None else (draws - now_draws).sum(axis=1), q
        )
        outcome.update(
            current_spend=round(float(current.sum()), 2),
            current_effect=float(now_effects.sum()),
            uplift=paid - float(now_effects.sum()),
            uplift_low=uplift_low,
            uplift_high=uplift_high,
        )
    return {
        "goal": goal,
        "total": total,
        "target": model.target,
        "period": model.period,
        "value_per_unit": value,
        "interval": level,
        "draws": len(model.draws),
        "channels": rows,
        "outcome": outcome,
        "equal_marginal": float(np.median(free)) if free else None,
        "constraints": asked,
        "solver": solver,
    }


def compare(model: ResponseModel, scenarios: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Several allocations side by side: one row per scenario, a column per channel's spend.

    Each scenario is ``allocate``'s keyword arguments plus an optional ``name``; a scenario
    that cannot be met keeps its row with the error, so the others still compare.
    """
    if not scenarios:
        raise ValidationError("scenarios", [], "at least one scenario (total, goal, limits)")
    results, rows = [], []
    known = {"name", "total", "goal", "current", "min", "max", "max_change", "volume"}
    known |= {"target_roas", "minimum", "maximum"}
    for index, scenario in enumerate(scenarios):
        name = str(scenario.get("name") or f"scenario {index + 1}")
        unknown = sorted(set(scenario) - known)
        if unknown:
            raise ValidationError(
                f"scenarios[{index}].{unknown[0]}",
                scenario[unknown[0]],
                f"one of the fields {', '.join(sorted(known))}",
            )
        try:
            result = allocate(
                model,
                total=scenario.get("total"),  # type: ignore[arg-type]
                goal=str(scenario.get("goal", "conversions")),
                current=scenario.get("current"),
                minimum=scenario.get("min", scenario.get("minimum")),
                maximum=scenario.get("max", scenario.get("maximum")),
                max_change=scenario.get("max_change"),
                volume=scenario.get("volume"),
                target_roas=scenario.get("target_roas"),
            )
        except ValidationError as exc:
            results.append({"name": name, "error": str(exc)})
            rows.append({"name": name, "error": str(exc)})
            continue
        results.append({"name": name, **result})
        out = result["outcome"]
        row: dict[str, Any] = {
            "name": name,
            "goal": result["goal"],
            "total": result["total"],
            "spend": out["spend"],
            "effect": out["effect"],
            "effect_low": out["effect_low"],
            "effect_high": out["effect_high"],
            "revenue": out["revenue"],
            "cpa": out["cpa"],
            "roas": out["roas"],
            "error": None,
        }
        for channel in result["channels"]:
            row[f"spend:{channel['channel']}"] = channel["recommended"]
        rows.append(row)
    columns = ["name", "goal", "total", "spend", "effect", "effect_low", "effect_high"]
    columns += ["revenue", "cpa", "roas"] + [f"spend:{c}" for c in model.channels] + ["error"]
    return {"columns": columns, "rows": rows, "scenarios": results}
