"""Predicted CLV and P(alive): BG/NBD + Gamma-Gamma fitted on the warehouse's orders.

The per-profile summary (purchase days, first and last purchase day, total and the first
day's value) is one group-by in the engine; only the small summary comes to numpy, where
``profiles.clv`` fits both models, as ``omni clv fit`` does, with weekly periods and the
calibration ending on the build's as-of day. Several orders on one day are one purchase.
Predictions: ``p_alive``, ``expected_purchases`` and ``predicted_clv`` (discounted value)
over ``horizon_weeks`` (default 52).

The models need repeat buyers to fit; with too few (a fresh installation) the fit fails
and the three traits stay NULL, with the reason in the build report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from omnichannel.errors import ValidationError
from omnichannel.profiles.clv import FitError, Summary, customer_values, fit_summary
from omnichannel.profiles.traits.base import Members

DAYS_PER_WEEK = 7


@dataclass
class ClvResult:
    """The per-profile predictions (or None) and what the fit said."""

    table: ir.Table | None
    customers: int = 0
    repeat_buyers: int = 0
    error: str | None = None
    params: dict[str, float] = field(default_factory=dict)


def purchase_summary(m: Members) -> pd.DataFrame:
    """Per profile: purchase days, first/last day, total value and the first day's value."""
    o = m.orders
    as_of_day = ibis.literal(m.as_of.date())
    daily = o.group_by(["profile_id", o.ordered_at.date().name("day")]).agg(
        amount=o.total.sum().cast("float64")
    )
    daily = daily.filter(daily.day <= as_of_day)
    ranked = daily.mutate(_n=ibis.row_number().over(group_by="profile_id", order_by="day"))
    per = ranked.group_by("profile_id").agg(
        days=ranked.count(),
        first_day=ranked.day.min(),
        last_day=ranked.day.max(),
        total=ranked.amount.sum(),
        first_amount=ibis.ifelse(ranked._n == 0, ranked.amount, 0.0).sum(),
    )
    frame: pd.DataFrame = per.to_pandas()
    return frame


def summary_of(frame: pd.DataFrame, m: Members) -> Summary:
    """The ``profiles.clv`` summary, in weeks, calibration ending on the as-of day."""
    first = pd.to_datetime(frame["first_day"])
    last = pd.to_datetime(frame["last_day"])
    cal_end = pd.Timestamp(m.as_of.date())
    frequency = (frame["days"].astype("int64") - 1).to_numpy()
    repeat_value = (frame["total"] - frame["first_amount"]).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_value / np.maximum(frequency, 1), 0.0)
    customers = pd.DataFrame(
        {
            "frequency": frequency,
            "recency": ((last - first).dt.days / DAYS_PER_WEEK).to_numpy(),
            "T": ((cal_end - first).dt.days / DAYS_PER_WEEK).to_numpy(),
            "monetary": monetary,
            "first_purchase": first.to_numpy(),
            "holdout_frequency": np.zeros(len(frame), dtype="int64"),
        },
        index=pd.Index(frame["profile_id"].astype(str), name="customer"),
    )
    return Summary(
        customers=customers,
        calibration_end=cal_end,
        holdout_end=None,
        data_start=first.min() if len(first) else cal_end,
        data_end=last.max() if len(last) else cal_end,
        freq="W",
    )


def clv_traits(m: Members, *, horizon_weeks: float = 52, discount_rate: float = 0.10) -> ClvResult:
    frame = purchase_summary(m)
    if frame.empty:
        return ClvResult(None, error="no orders attributed to profiles")
    summary = summary_of(frame, m)
    customers = len(summary.customers)
    repeat = int((summary.customers["frequency"] > 0).sum())
    try:
        # Extreme parameters (a tiny or odd population) overflow some terms to NaN; those
        # predictions are stored as NULL below rather than warned about per build.
        with np.errstate(all="ignore"):
            fit = fit_summary(summary)
            values = customer_values(fit, horizon=horizon_weeks, discount_rate=discount_rate)
    except (FitError, ValidationError, ValueError, FloatingPointError) as exc:
        return ClvResult(None, customers, repeat, error=f"CLV fit failed: {exc}")
    predictions = pd.DataFrame(
        {
            "profile_id": values["customer"].astype(str),
            "p_alive": np.clip(values["p_alive"].to_numpy(dtype=float), 0.0, 1.0),  # NaN stays
            "expected_purchases": values["expected_purchases"].to_numpy(dtype=float),
            "predicted_clv": values["clv"].to_numpy(dtype=float).round(2),
        }
    )
    params = {**fit.bgnbd.as_dict(), **fit.gamma_gamma.as_dict()}
    return ClvResult(
        ibis.memtable(predictions),
        customers,
        repeat,
        params={k: float(v) for k, v in params.items()},
    )
