"""A fitted marketing-mix model: what each face prints and what a budget plans with.

``MMMFit`` keeps the point estimate and its draws (bootstrap refits for the fast fit,
posterior samples for the Bayesian one) in the same shape, so every figure is read the
same way: the point value, and a 90% interval from the draws' 5th and 95th percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omnichannel.mmm.curves import ChannelCurve, Period, ResponseModel
from omnichannel.mmm.fast import adstock, saturation

INTERVAL = (5.0, 95.0)  # percentiles of the draws: a 90% interval
MARGINAL_STEP = 0.01  # marginal ROI: the return of 1% more spend in every period


@dataclass(frozen=True)
class ChannelDraws:
    """Per channel (axis 1) and draw (axis 0), hyperparameters and tops."""

    decay: np.ndarray
    half: np.ndarray
    shape: np.ndarray
    top: np.ndarray

    @property
    def count(self) -> int:
        return int(self.decay.shape[0])


@dataclass
class MMMFit:
    """A fit (module docstring); ``report()`` is the JSON the CLI and the API answer."""

    method: str
    period: Period
    target_name: str
    channels: tuple[str, ...]
    dates: np.ndarray
    target: np.ndarray
    spend: np.ndarray  # (C, T)
    point: ChannelDraws  # one "draw": the point estimate
    draws: ChannelDraws
    baseline: np.ndarray  # (T,) the fitted target without paid media
    baseline_names: tuple[str, ...]
    gamma: np.ndarray
    holdout: dict[str, Any]
    data: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    value_per_unit: float | None = None

    # --- figures ---------------------------------------------------------------------

    def contributions(self, which: ChannelDraws | None = None, k: int = 0) -> np.ndarray:
        """(C, T) effect per channel and period of draw ``k`` of ``which`` (the point)."""
        d = which or self.point
        h = saturation(adstock(self.spend, d.decay[k]), d.half[k], d.shape[k])
        return np.asarray(d.top[k][:, None] * h)

    def _marginal(self, d: ChannelDraws, k: int, base: np.ndarray) -> np.ndarray:
        more = self.spend * (1.0 + MARGINAL_STEP)
        h = saturation(adstock(more, d.decay[k]), d.half[k], d.shape[k])
        extra = (d.top[k][:, None] * h).sum(axis=1) - base.sum(axis=1)
        return np.asarray(extra / (MARGINAL_STEP * self.spend.sum(axis=1)))

    def _per_channel(self, d: ChannelDraws, k: int) -> dict[str, np.ndarray]:
        contribution = self.contributions(d, k)
        total = contribution.sum(axis=1)
        spend = self.spend.sum(axis=1)
        return {
            "contribution": total,
            "share": total / total.sum() if total.sum() > 0 else np.zeros_like(total),
            "roi": total / spend,
            "marginal_roi": self._marginal(d, k, contribution),
            "decay": d.decay[k],
            "half": d.half[k],
            "shape": d.shape[k],
            "top": d.top[k],
        }

    def channel_table(self) -> list[dict[str, Any]]:
        """Per channel: spend and each figure with its interval from the draws."""
        point = self._per_channel(self.point, 0)
        drawn = [self._per_channel(self.draws, k) for k in range(self.draws.count)]
        rows = []
        spend = self.spend.sum(axis=1)
        for c, channel in enumerate(self.channels):
            row: dict[str, Any] = {"channel": channel, "spend": round(float(spend[c]), 2)}
            for name, values in point.items():
                samples = np.array([d[name][c] for d in drawn]) if drawn else np.array([])
                row[name] = _figure(float(values[c]), samples)
            if self.value_per_unit is not None:
                row["value_roi"] = round(float(point["roi"][c]) * self.value_per_unit, 6)
            rows.append(row)
        return rows

    def response_model(self) -> ResponseModel:
        """The curves in the budget's terms: point, draws, baseline per period, target."""

        def curves(d: ChannelDraws, k: int) -> tuple[ChannelCurve, ...]:
            return tuple(
                ChannelCurve(
                    channel,
                    float(d.decay[k][c]),
                    float(d.half[k][c]),
                    float(d.shape[k][c]),
                    float(d.top[k][c]),
                )
                for c, channel in enumerate(self.channels)
            )

        return ResponseModel(
            target=self.target_name,
            period=self.period,
            curves=curves(self.point, 0),
            baseline_per_period=float(self.baseline.mean()),
            draws=tuple(curves(self.draws, k) for k in range(self.draws.count)),
            value_per_unit=self.value_per_unit,
        )

    def response_curves(self, points: int = 21) -> list[dict[str, Any]]:
        """Per channel, the steady-state effect per period of spend from 0 to 3x its mean."""
        model = self.response_model()
        out = []
        for c, curve in enumerate(model.curves):
            mean = float(self.spend[c].mean())
            grid = np.linspace(0.0, 3.0 * mean, points)
            drawn = np.array([draw[c].response(grid) for draw in model.draws])
            lo, hi = (
                np.percentile(drawn, INTERVAL, axis=0)
                if len(drawn)
                else (np.full(points, np.nan), np.full(points, np.nan))
            )
            out.append(
                {
                    "channel": curve.channel,
                    "mean_spend": round(mean, 2),
                    "spend": [round(float(x), 2) for x in grid],
                    "effect": [round(float(v), 6) for v in curve.response(grid)],
                    "low": [_round(v) for v in lo],
                    "high": [_round(v) for v in hi],
                }
            )
        return out

    def over_time(self) -> dict[str, Any]:
        """Per period: the actual target, the fit, the baseline and each channel's effect."""
        contribution = self.contributions()
        return {
            "dates": [str(d) for d in self.dates],
            "actual": [_round(v) for v in self.target],
            "fitted": [_round(v) for v in self.baseline + contribution.sum(axis=0)],
            "baseline": [_round(v) for v in self.baseline],
            "channels": {
                channel: [_round(v) for v in contribution[c]]
                for c, channel in enumerate(self.channels)
            },
        }

    def fit_quality(self) -> dict[str, Any]:
        fitted = self.baseline + self.contributions().sum(axis=0)
        return {"in_sample": errors(self.target, fitted), "holdout": self.holdout}

    def report(self, *, detail: bool = False) -> dict[str, Any]:
        """The answer of ``omni mmm fit --json`` (with ``detail``: curves and time series)."""
        contribution = self.contributions().sum()
        answer: dict[str, Any] = {
            "method": self.method,
            "target": self.target_name,
            "period": self.period,
            "data": self.data,
            "interval": "90% (5th-95th percentile of "
            + ("bootstrap refits" if self.method == "fast" else "posterior draws")
            + f", {self.draws.count} draws)",
            "channels": self.channel_table(),
            "paid_contribution": round(float(contribution), 4),
            "baseline_total": round(float(self.baseline.sum()), 4),
            "target_total": round(float(self.target.sum()), 4),
            "value_per_unit": self.value_per_unit,
            "fit": self.fit_quality(),
            "baseline_terms": list(self.baseline_names),
            "options": self.options,
            "seconds": round(self.seconds, 3),
        }
        if detail:
            answer["response_curves"] = self.response_curves()
            answer["over_time"] = self.over_time()
        return answer


def errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """MAPE (over periods with a non-zero actual), RMSE and R^2."""
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    if actual.size == 0:
        return {"periods": 0, "mape": None, "rmse": None, "r2": None}
    nonzero = actual != 0
    mape = (
        float(np.mean(np.abs((actual[nonzero] - predicted[nonzero]) / actual[nonzero])))
        if nonzero.any()
        else None
    )
    rmse = float(np.sqrt(np.mean((actual - predicted) ** 2)))
    total = float(((actual - actual.mean()) ** 2).sum())
    r2 = 1.0 - float(((actual - predicted) ** 2).sum()) / total if total > 0 else None
    return {
        "periods": int(actual.size),
        "mape": None if mape is None else round(mape, 6),
        "rmse": round(rmse, 6),
        "r2": None if r2 is None else round(r2, 6),
    }


def _figure(value: float, samples: np.ndarray) -> dict[str, Any]:
    if samples.size:
        lo, hi = np.percentile(samples, INTERVAL)
        interval = [_round(lo), _round(hi)]
    else:
        interval = [None, None]
    return {"value": _round(value), "interval": interval}


def _round(value: float) -> float | None:
    v = float(value)
    if not np.isfinite(v):
        return None
    return float(f"{v:.6g}")
