"""Check a fitted BG/NBD model on the holdout period the fit did not see.

Two views, as in Fader, Hardie & Lee (2005): purchases in the holdout per
calibration-frequency bucket (their Figure 4, conditional expectations), and cumulative
repeat purchases of the whole cohort from its first purchases to the holdout end (their
Figure 2). Per-customer errors are set beside a naive baseline so a reader can tell
whether the model earns its keep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from omnichannel.profiles.clv.bgnbd import (
    BgNbdParams,
    conditional_expected_purchases,
    expected_purchases,
)

BUCKET_CAP = 7  # frequencies 7 and above share one bucket, labelled "7+"


@dataclass(frozen=True, slots=True)
class HoldoutCheck:
    """Predicted against actual repeat purchases in the holdout period."""

    length: float  # periods
    buckets: pd.DataFrame  # bucket, customers, actual_mean, predicted_mean, actual, predicted
    actual: int
    predicted: float  # sum of conditional expectations
    cumulative_actual: int  # calibration + holdout repeat purchases
    cumulative_predicted: float  # sum of unconditional E[X(T + holdout)] (FHL Figure 2)
    mae: float  # per customer, model
    mae_baseline: float  # per customer, "repeats at her calibration rate"

    @property
    def relative_error(self) -> float:
        return (self.predicted - self.actual) / self.actual if self.actual else float("nan")

    @property
    def cumulative_relative_error(self) -> float:
        if not self.cumulative_actual:
            return float("nan")
        return (self.cumulative_predicted - self.cumulative_actual) / self.cumulative_actual

    def as_dict(self) -> dict[str, object]:
        return {
            "length": self.length,
            "actual": self.actual,
            "predicted": self.predicted,
            "relative_error": self.relative_error,
            "cumulative_actual": self.cumulative_actual,
            "cumulative_predicted": self.cumulative_predicted,
            "cumulative_relative_error": self.cumulative_relative_error,
            "mae": self.mae,
            "mae_baseline": self.mae_baseline,
            "buckets": self.buckets.to_dict(orient="records"),
        }


def bucket_label(frequency: int) -> str:
    return f"{BUCKET_CAP}+" if frequency >= BUCKET_CAP else str(frequency)


def calibration_rate_baseline(customers: pd.DataFrame, length: float) -> np.ndarray:
    """Naive forecast: each customer keeps buying at her calibration rate x / T."""
    age = customers["T"].to_numpy(dtype=float)
    rate = np.divide(
        customers["frequency"].to_numpy(dtype=float),
        age,
        out=np.zeros_like(age),
        where=age > 0,
    )
    return rate * length


def check_holdout(params: BgNbdParams, customers: pd.DataFrame, length: float) -> HoldoutCheck:
    """Compare predictions for the next ``length`` periods with ``holdout_frequency``.

    ``customers`` is ``Summary.customers`` (frequency, recency, T, holdout_frequency).
    """
    x = customers["frequency"].to_numpy(dtype=float)
    t_x = customers["recency"].to_numpy(dtype=float)
    age = customers["T"].to_numpy(dtype=float)
    actual = customers["holdout_frequency"].to_numpy(dtype=float)
    predicted = conditional_expected_purchases(params, length, x, t_x, age)
    frame = pd.DataFrame(
        {
            "bucket": np.minimum(x, BUCKET_CAP).astype(int),
            "actual": actual,
            "predicted": predicted,
        }
    )
    grouped = frame.groupby("bucket").agg(
        customers=("actual", "size"),
        actual_mean=("actual", "mean"),
        predicted_mean=("predicted", "mean"),
        actual=("actual", "sum"),
        predicted=("predicted", "sum"),
    )
    grouped = grouped.reindex(range(BUCKET_CAP + 1), fill_value=0).reset_index()
    grouped["customers"] = grouped["customers"].astype(int)
    grouped["actual"] = grouped["actual"].astype(int)
    grouped["bucket"] = grouped["bucket"].map(bucket_label)
    cumulative_predicted = float(np.sum(expected_purchases(params, age + length)))
    return HoldoutCheck(
        length=length,
        buckets=grouped,
        actual=int(actual.sum()),
        predicted=float(predicted.sum()),
        cumulative_actual=int(x.sum() + actual.sum()),
        cumulative_predicted=cumulative_predicted,
        mae=float(np.mean(np.abs(predicted - actual))),
        mae_baseline=float(np.mean(np.abs(calibration_rate_baseline(customers, length) - actual))),
    )
