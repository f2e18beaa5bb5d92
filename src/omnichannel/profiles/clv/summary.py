"""Transactions -> the per-customer statistics the BG/NBD and Gamma-Gamma models take.

For every customer whose first purchase is on or before the calibration end:

* ``frequency`` (x): repeat purchases in the calibration period, i.e. purchase days - 1;
* ``recency`` (t_x): time from the first to the last calibration purchase;
* ``T``: time from the first purchase to the calibration end;
* ``monetary``: mean value of the repeat purchases (the first is left out, as in
  Fader, Hardie & Lee 2005, because it is often unlike the rest);
* ``holdout_frequency``: purchases after the calibration end, up to the holdout end.

Times are in periods of ``freq``: ``"D"`` (days) or ``"W"`` (weeks = days / 7, fractional,
which is how the CDNOW figures in the papers were computed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from omnichannel.errors import ValidationError

Freq = Literal["D", "W"]
DAYS_PER_PERIOD: dict[str, int] = {"D": 1, "W": 7}


@dataclass(frozen=True, slots=True)
class Summary:
    """One row per calibration customer, plus the dates that bound the periods."""

    customers: pd.DataFrame  # index customer; frequency, recency, T, monetary, holdout_frequency
    calibration_end: pd.Timestamp
    holdout_end: pd.Timestamp | None
    data_start: pd.Timestamp
    data_end: pd.Timestamp
    freq: Freq

    @property
    def holdout_length(self) -> float:
        """Length of the holdout period in periods of ``freq`` (0 without a holdout)."""
        if self.holdout_end is None:
            return 0.0
        return (self.holdout_end - self.calibration_end).days / DAYS_PER_PERIOD[self.freq]


def _day(value: date | str | pd.Timestamp, option: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValidationError(option, str(value), "a date as YYYY-MM-DD") from exc
    if pd.isna(stamp):
        raise ValidationError(option, str(value), "a date as YYYY-MM-DD")
    return stamp.normalize()


def summarise(
    transactions: pd.DataFrame,
    *,
    calibration_end: date | str | pd.Timestamp,
    holdout_end: date | str | pd.Timestamp | None = None,
    freq: Freq = "W",
) -> Summary:
    """Split clean transactions (``customer, date, amount``) at ``calibration_end`` (inclusive).

    Example::

        s = summarise(tx, calibration_end="1997-09-30", holdout_end="1998-06-30", freq="W")
        s.customers.loc["00004", ["frequency", "recency", "T"]]   # 2, 30.43, 38.86
    """
    if freq not in DAYS_PER_PERIOD:
        raise ValidationError("--freq", freq, "D (days) or W (weeks)")
    cal_end = _day(calibration_end, "--calibration-end")
    hold_end = None if holdout_end is None else _day(holdout_end, "--holdout-end")
    data_start, data_end = transactions["date"].min(), transactions["date"].max()
    # With a holdout, the calibration must end before the data do, or there is nothing
    # to check against; without one, ending on the last day forecasts from today.
    last_allowed = data_end - pd.Timedelta(days=1) if hold_end is not None else data_end
    if not data_start <= cal_end <= last_allowed:
        raise ValidationError(
            "--calibration-end",
            cal_end.date().isoformat(),
            f"a date from {data_start.date()} to {last_allowed.date()}, within the file's "
            f"purchases ({data_start.date()} to {data_end.date()})",
        )
    if hold_end is not None and hold_end <= cal_end:
        raise ValidationError(
            "--holdout-end", hold_end.date().isoformat(), f"a date after {cal_end.date()}"
        )

    # Several orders on one day count as one purchase of their total value, as in the
    # CDNOW analyses: the models describe purchase occasions, not basket lines.
    daily = transactions.groupby(["customer", "date"], sort=True, as_index=False)["amount"].sum()
    calibration = daily[daily["date"] <= cal_end]
    customers = _calibration_statistics(calibration, cal_end, DAYS_PER_PERIOD[freq])

    holdout_counts = pd.Series(0, index=customers.index, dtype="int64")
    if hold_end is not None:
        in_holdout = daily[(daily["date"] > cal_end) & (daily["date"] <= hold_end)]
        counts = in_holdout.groupby("customer").size()
        # Customers first seen in the holdout are not part of the calibration cohort.
        counts = counts[counts.index.isin(customers.index)]
        holdout_counts.loc[counts.index] = counts.to_numpy()
    customers["holdout_frequency"] = holdout_counts
    return Summary(customers, cal_end, hold_end, data_start, data_end, freq)


def _calibration_statistics(
    calibration: pd.DataFrame, cal_end: pd.Timestamp, days_per_period: int
) -> pd.DataFrame:
    grouped = calibration.groupby("customer", sort=True)
    first = grouped["date"].min()
    last = grouped["date"].max()
    purchases = grouped.size()
    total = grouped["amount"].sum()
    first_amount = calibration.drop_duplicates("customer", keep="first").set_index("customer")[
        "amount"
    ]
    frequency = (purchases - 1).astype("int64")
    repeat_total = total - first_amount.reindex(total.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_total / frequency.replace(0, 1), 0.0)
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last - first).dt.days / days_per_period,
            "T": (cal_end - first).dt.days / days_per_period,
            "monetary": monetary,
            "first_purchase": first,
        }
    )
