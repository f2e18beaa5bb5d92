"""Real-time reallocation within a channel: Thompson sampling across its campaigns
(issue 15.4), shifting tomorrow's daily budget towards what converts.

The model is **Gamma-Poisson on conversions per unit of currency**: a campaign's
conversions over a window are Poisson with mean ``rate x spend``, and its rate has a
Gamma prior, so after ``c`` conversions on ``s`` spent the posterior is
``Gamma(a + c, b + s)``. Why this rather than Beta-Binomial on conversions per click:
what is being split is money, so the quantity to compare is conversions per yuan; the
warehouse's conversions (orders tagged with a campaign) are not a subset of its clicks
(offline flyers have no clicks, and an order may follow a view), which a Binomial
would need; and the Gamma's update is two sums over the window. The prior's mean is the
channel's pooled rate, worth ``PRIOR_SPEND_SHARE`` of the window's average spend per
campaign, so a new campaign starts at the channel's rate and is learned quickly.

Each day, ``split`` draws every campaign's rate many times; a campaign's budget share is
the probability that it is the best (probability matching, Thompson's rule for a
budget), kept above an exploration ``floor`` and, optionally, within ``max_change`` of
yesterday's share.

Example::

    from omnichannel.budget.bandit import Arm, split

    split([Arm("CMP-1", spend=1200, conversions=30), Arm("CMP-2", spend=900, conversions=9)],
          budget=500)   # [{"arm": "CMP-1", "share": 0.93..., "budget": 466.0, ...}, ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnichannel.errors import ValidationError

SAMPLES = 4000
DEFAULT_FLOOR = 0.05
PRIOR_SPEND_SHARE = 0.1


@dataclass(frozen=True)
class Arm:
    """One campaign (or creative) in the window: what it spent and what it converted."""

    name: str
    spend: float
    conversions: float
    label: str = ""
    yesterday: float | None = None  # its spend on the window's last day


def _posterior(arms: Sequence[Arm]) -> tuple[np.ndarray, np.ndarray]:
    spend = np.array([max(a.spend, 0.0) for a in arms])
    conversions = np.array([max(a.conversions, 0.0) for a in arms])
    pooled = (conversions.sum() + 1.0) / (spend.sum() + 1.0)
    prior_spend = max(PRIOR_SPEND_SHARE * spend.mean(), 1.0)
    shape = pooled * prior_spend + conversions
    rate = prior_spend + spend
    return shape, rate


def _bounded(shares: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Shares within [low, high] summing to 1, as near ``shares`` as a shift allows."""
    lo_shift, hi_shift = -1.0, 1.0
    for _ in range(60):
        mid = (lo_shift + hi_shift) / 2
        if np.clip(shares + mid, low, high).sum() < 1.0:
            lo_shift = mid
        else:
            hi_shift = mid
    return np.asarray(np.clip(shares + hi_shift, low, high))


def split(
    arms: Sequence[Arm],
    *,
    budget: float,
    floor: float = DEFAULT_FLOOR,
    max_change: float | None = None,
    samples: int = SAMPLES,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Tomorrow's budget per arm by Thompson sampling, with each arm's posterior."""
    if not arms:
        raise ValidationError("campaigns", [], "at least one campaign with spend in the window")
    if not budget or budget <= 0:
        raise ValidationError("budget", budget, "a positive daily budget")
    n = len(arms)
    if not 0 <= floor < 1:
        raise ValidationError("floor", floor, "a share of the budget from 0 to below 1")
    # Exploration may keep at most half the budget, however many arms there are.
    floor = min(floor, 0.5 / n)
    shape, rate = _posterior(arms)
    rng = np.random.default_rng(seed)
    draws = rng.gamma(shape, 1.0 / rate, size=(samples, n))
    best = np.bincount(draws.argmax(axis=1), minlength=n) / samples
    shares = floor + (1 - n * floor) * best
    low, high = np.full(n, floor), np.ones(n)
    spent = np.array([a.yesterday or 0.0 for a in arms])
    if max_change is not None and spent.sum() > 0:
        before = spent / spent.sum()
        low = np.maximum(low, before * (1 - max_change))
        high = np.minimum(high, np.maximum(before * (1 + max_change), low))
        if low.sum() <= 1 <= high.sum():
            shares = _bounded(shares, low, high)
    mean = shape / rate
    q_low, q_high = _gamma_interval(shape, rate, rng)
    return [
        {
            "arm": arm.name,
            "label": arm.label,
            "spend": round(arm.spend, 2),
            "conversions": arm.conversions,
            "yesterday": None if arm.yesterday is None else round(arm.yesterday, 2),
            "rate": float(mean[i]),
            "rate_low": float(q_low[i]),
            "rate_high": float(q_high[i]),
            "cost_per_conversion": float(1 / mean[i]) if mean[i] > 0 else None,
            "p_best": float(best[i]),
            "share": float(shares[i]),
            "budget": round(float(shares[i] * budget), 2),
        }
        for i, arm in enumerate(arms)
    ]


def _gamma_interval(
    shape: np.ndarray, rate: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    draws = rng.gamma(shape, 1.0 / rate, size=(2000, len(shape)))
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    return low, high


def simulate(
    rates: Sequence[float],
    *,
    days: int,
    budget: float,
    seed: int,
    floor: float = 0.02,
    samples: int = 500,
) -> dict[str, float]:
    """One run of the bandit against arms of known conversion rates per unit spent.

    Each day the bandit splits ``budget`` from what it has seen, and conversions arrive
    Poisson with the true rates. Regrets are expected conversions short of the oracle
    (every unit on the best arm) summed over the days, for the bandit and an equal split.
    """
    true = np.asarray(rates, dtype=float)
    rng = np.random.default_rng(seed)
    n = len(true)
    spend, conversions = np.zeros(n), np.zeros(n)
    gained = 0.0
    for day in range(days):
        if day == 0:
            today = np.full(n, budget / n)
        else:
            arms = [Arm(str(i), spend[i], conversions[i]) for i in range(n)]
            today = np.array(
                [
                    row["budget"]
                    for row in split(
                        arms, budget=budget, floor=floor, samples=samples, seed=seed * 7919 + day
                    )
                ]
            )
        observed = rng.poisson(true * today)
        spend += today
        conversions += observed
        gained += float((true * today).sum())
    oracle = float(true.max() * budget * days)
    equal = float(true.mean() * budget * days)
    return {
        "oracle": oracle,
        "bandit": gained,
        "equal": equal,
        "regret_bandit": oracle - gained,
        "regret_equal": oracle - equal,
    }
