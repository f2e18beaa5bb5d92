"""Response curves: what one channel's spend buys, the shared vocabulary of the
marketing-mix model (which fits them) and budget allocation (which spends along them).

Per channel ``c`` and period ``t`` the model is the standard marketing-mix form:

    adstock[t] = spend[t] + decay * adstock[t - 1]                  (carry-over, geometric)
    effect[t]  = top * adstock[t]^shape / (adstock[t]^shape + half^shape)   (saturation, Hill)

Spending ``x`` every period settles at ``adstock = x / (1 - decay)``; that steady state is
what a budget plans for, so ``response`` and ``marginal`` are in those terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Period = Literal["day", "week"]


def geometric_adstock(spend: np.ndarray, decay: float) -> np.ndarray:
    """Carry-over along the last axis: ``out[t] = spend[t] + decay * out[t - 1]``."""
    values = np.asarray(spend, dtype=float)
    out = np.empty_like(values)
    carry = np.zeros(values.shape[:-1])
    for t in range(values.shape[-1]):
        carry = values[..., t] + decay * carry
        out[..., t] = carry
    return out


def hill(adstock: np.ndarray | float, half: float, shape: float, top: float) -> np.ndarray:
    """Saturating effect of an adstock level: ``top`` at saturation, ``top / 2`` at ``half``."""
    level = np.power(np.maximum(np.asarray(adstock, dtype=float), 0.0), shape)
    return np.asarray(top * level / (level + half**shape))


@dataclass(frozen=True)
class ChannelCurve:
    """One channel's fitted (or true) curve, in the target's units per period."""

    channel: str
    decay: float  # share of an adstock level carried into the next period, 0 <= decay < 1
    half: float  # adstock (spend units) at which the effect is half of ``top``
    shape: float  # Hill exponent: > 1 is S-shaped, <= 1 is concave from the first unit
    top: float  # effect per period at saturation (target units)

    def response(self, spend_per_period: np.ndarray | float) -> np.ndarray:
        """Effect per period when ``spend_per_period`` is spent every period (steady state)."""
        steady = np.asarray(spend_per_period, dtype=float) / (1.0 - self.decay)
        return hill(steady, self.half, self.shape, self.top)

    def marginal(self, spend_per_period: np.ndarray | float) -> np.ndarray:
        """d response / d spend at the steady state: what the next unit of spend returns."""
        x = np.maximum(np.asarray(spend_per_period, dtype=float), 1e-12) / (1.0 - self.decay)
        k, s = self.half, self.shape
        d_hill = self.top * s * k**s * x ** (s - 1) / (x**s + k**s) ** 2
        return np.asarray(d_hill / (1.0 - self.decay))


@dataclass(frozen=True)
class ResponseModel:
    """Everything a budget needs from a fitted marketing-mix model.

    ``curves`` is the point estimate; ``draws`` are equally likely alternatives (bootstrap
    refits for the fast fit, posterior samples for the Bayesian one), each a full set of
    curves in the same channel order, from which outcome intervals are read.
    """

    target: str  # what the effect counts: "orders", "revenue", "conversions", ...
    period: Period
    curves: tuple[ChannelCurve, ...]
    baseline_per_period: float  # the target without any paid effect (intercept + controls)
    draws: tuple[tuple[ChannelCurve, ...], ...] = field(default=())
    value_per_unit: float | None = None  # revenue per unit of target, when it is not revenue

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(curve.channel for curve in self.curves)

    def curve(self, channel: str) -> ChannelCurve:
        for candidate in self.curves:
            if candidate.channel == channel:
                return candidate
        raise KeyError(channel)

    def outcome(self, split: Sequence[float]) -> float:
        """Total paid effect per period of spending ``split`` (same order as ``curves``)."""
        return float(sum(float(c.response(x)) for c, x in zip(self.curves, split, strict=True)))
