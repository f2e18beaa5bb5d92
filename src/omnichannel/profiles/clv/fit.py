"""One call from a transaction file to fitted CLV models, holdout check and per-customer values.

Example::

    from omnichannel.profiles.clv import TransactionColumns, fit_clv, customer_values

    result = fit_clv(
        "orders.parquet",
        TransactionColumns(customer="user_id", date="ordered_at", amount="total"),
        calibration_end="2024-06-30",
        holdout_end="2024-12-31",
        freq="W",
    )
    result.bgnbd.r, result.gamma_gamma.p, result.holdout.mae
    table = customer_values(result, horizon=52, discount_rate=0.10)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from omnichannel.errors import ValidationError
from omnichannel.profiles.clv import bgnbd, gamma_gamma
from omnichannel.profiles.clv.holdout import HoldoutCheck, check_holdout
from omnichannel.profiles.clv.summary import DAYS_PER_PERIOD, Freq, Summary, summarise
from omnichannel.profiles.clv.transactions import TransactionColumns, read_transactions

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
OUTPUT_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True, slots=True)
class ClvFit:
    """Everything ``omni clv fit`` reports."""

    summary: Summary
    bgnbd: bgnbd.BgNbdParams
    gamma_gamma: gamma_gamma.GammaGammaParams
    holdout: HoldoutCheck | None

    def as_dict(self) -> dict[str, object]:
        customers = self.summary.customers
        return {
            "freq": self.summary.freq,
            "calibration_end": self.summary.calibration_end.date(),
            "holdout_end": None
            if self.summary.holdout_end is None
            else self.summary.holdout_end.date(),
            "data_start": self.summary.data_start.date(),
            "data_end": self.summary.data_end.date(),
            "customers": len(customers),
            "repeat_buyers": int((customers["frequency"] > 0).sum()),
            "bgnbd": {**self.bgnbd.as_dict(), "log_likelihood": self.bgnbd.log_likelihood},
            "gamma_gamma": {
                **self.gamma_gamma.as_dict(),
                "log_likelihood": self.gamma_gamma.log_likelihood,
                "population_mean_value": self.gamma_gamma.population_mean,
            },
            "holdout": None if self.holdout is None else self.holdout.as_dict(),
        }


def fit_summary(summary: Summary) -> ClvFit:
    """Fit both models on an existing summary and check the holdout when there is one."""
    customers = summary.customers
    bg = bgnbd.fit(customers["frequency"], customers["recency"], customers["T"])
    gg = gamma_gamma.fit(customers["frequency"], customers["monetary"])
    holdout = None
    if summary.holdout_end is not None:
        holdout = check_holdout(bg, customers, summary.holdout_length)
    return ClvFit(summary, bg, gg, holdout)


def fit_clv(
    transactions: Path | str,
    columns: TransactionColumns,
    *,
    calibration_end: date | str,
    holdout_end: date | str | None = None,
    freq: Freq = "W",
) -> ClvFit:
    """Read the file, summarise it per customer and fit BG/NBD and Gamma-Gamma."""
    frame = read_transactions(transactions, columns)
    summary = summarise(frame, calibration_end=calibration_end, holdout_end=holdout_end, freq=freq)
    return fit_summary(summary)


def discounted_purchases(
    params: bgnbd.BgNbdParams,
    customers: pd.DataFrame,
    *,
    horizon: float,
    days_per_period: int,
    discount_rate: float,
) -> np.ndarray:
    """Expected purchases over ``horizon``, each month's share discounted to the start.

    Purchases are spread over the horizon by the model (E[Y(t_k)] - E[Y(t_{k-1})] per month)
    and the month's value discounted at ``(1 + discount_rate) ** -years``: a customer
    likely to buy soon is worth more than one buying at the same rate but likely to leave.
    """
    x = customers["frequency"].to_numpy(dtype=float)
    t_x = customers["recency"].to_numpy(dtype=float)
    age = customers["T"].to_numpy(dtype=float)
    steps = max(1, math.ceil(horizon * days_per_period / DAYS_PER_MONTH))
    total = np.zeros_like(x)
    previous = np.zeros_like(x)
    for k in range(1, steps + 1):
        t_k = horizon * k / steps
        cumulative = bgnbd.conditional_expected_purchases(params, t_k, x, t_x, age)
        years = t_k * days_per_period / DAYS_PER_YEAR
        total += (cumulative - previous) / (1.0 + discount_rate) ** years
        previous = cumulative
    return total


def customer_values(fit: ClvFit, *, horizon: float, discount_rate: float = 0.0) -> pd.DataFrame:
    """Per customer, as of the calibration end: P(alive), purchases, spend and CLV.

    ``horizon`` is in periods of the fit's ``freq``; ``discount_rate`` is annual (0.10 = 10 %).
    """
    if not horizon > 0:
        raise ValidationError("--horizon", horizon, "a number of periods > 0")
    if not 0 <= discount_rate < 10:
        raise ValidationError("--discount-rate", discount_rate, "an annual rate, e.g. 0.10")
    customers = fit.summary.customers
    x = customers["frequency"].to_numpy(dtype=float)
    t_x = customers["recency"].to_numpy(dtype=float)
    age = customers["T"].to_numpy(dtype=float)
    average_value = gamma_gamma.conditional_expected_average_value(
        fit.gamma_gamma, x, customers["monetary"].to_numpy(dtype=float)
    )
    discounted = discounted_purchases(
        fit.bgnbd,
        customers,
        horizon=horizon,
        days_per_period=DAYS_PER_PERIOD[fit.summary.freq],
        discount_rate=discount_rate,
    )
    return pd.DataFrame(
        {
            "customer": customers.index.to_numpy(),
            "frequency": customers["frequency"].to_numpy(),
            "recency": t_x,
            "T": age,
            "monetary": customers["monetary"].to_numpy(dtype=float),
            "p_alive": bgnbd.probability_alive(fit.bgnbd, x, t_x, age),
            "expected_purchases": bgnbd.conditional_expected_purchases(
                fit.bgnbd, horizon, x, t_x, age
            ),
            "expected_average_value": average_value,
            "clv": average_value * discounted,
        }
    )


def write_table(frame: pd.DataFrame, path: Path | str) -> Path:
    """Write ``frame`` as CSV or Parquet, chosen by the file's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValidationError("--output", str(path), "a file ending in .csv or .parquet")
    if not path.parent.is_dir():
        raise ValidationError("--output", str(path), "a path in an existing directory")
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path
