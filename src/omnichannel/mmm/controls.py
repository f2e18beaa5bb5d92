"""The baseline's columns: what moves the target without paid media.

An intercept, a linear trend, weekly seasonality (daily data) and yearly seasonality as
Fourier terms, one indicator per retail moment (Chinese and Western, see ``MOMENTS``)
that falls inside the data, and the user's own controls (promotions, price, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from omnichannel.mmm.data import MMMData

# Chinese New Year moves with the lunar calendar.
LUNAR_NEW_YEAR = {
    2015: date(2015, 2, 19),
    2016: date(2016, 2, 8),
    2017: date(2017, 1, 28),
    2018: date(2018, 2, 16),
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}


def _fixed(month: int, first: int, last: int) -> Callable[[int], tuple[date, date]]:
    return lambda year: (date(year, month, first), date(year, month, last))


def _around_new_year(before: int, after: int) -> Callable[[int], tuple[date, date]]:
    def window(year: int) -> tuple[date, date]:
        day = LUNAR_NEW_YEAR.get(year, date(year, 2, 1))
        return day + timedelta(days=before), day + timedelta(days=after)

    return window


def _black_friday(year: int) -> tuple[date, date]:
    november = date(year, 11, 1)
    friday = november + timedelta(days=(4 - november.weekday()) % 7 + 21)
    return friday, friday + timedelta(days=3)  # to Cyber Monday


# name -> the days it covers in a year: the shopping windows, not only the day itself.
MOMENTS: dict[str, Callable[[int], tuple[date, date]]] = {
    "New Year": _fixed(1, 1, 1),
    "pre-Chinese New Year": _around_new_year(-25, -3),
    "Chinese New Year": _around_new_year(-2, 6),
    "Valentine's Day": _fixed(2, 12, 14),
    "Goddess Day": _fixed(3, 5, 8),
    "May Day": _fixed(5, 1, 5),
    "520": _fixed(5, 18, 20),
    "618": _fixed(6, 1, 18),
    # The festival day itself sells several times a run-up day: one indicator for the
    # whole window would leave that spike for a channel's adstock to soak up.
    "618 day": _fixed(6, 18, 18),
    "Golden Week": _fixed(10, 1, 7),
    "Double 11": _fixed(11, 1, 11),
    "Double 11 day": _fixed(11, 11, 11),
    "Black Friday": _black_friday,
    "Double 12": _fixed(12, 10, 12),
    "Christmas": _fixed(12, 20, 26),
}


@dataclass(frozen=True)
class Baseline:
    """The baseline design: ``matrix`` (T, K) with one named column per control."""

    matrix: np.ndarray
    names: tuple[str, ...]


def baseline(data: MMMData, *, holidays: bool = True, yearly_order: int = 2) -> Baseline:
    """Intercept, trend, seasonality, moments and user controls for ``data``'s periods."""
    t = np.arange(data.periods, dtype=float)
    columns: list[np.ndarray] = [np.ones_like(t), t / max(len(t) - 1, 1)]
    names: list[str] = ["intercept", "trend"]
    days = data.dates.astype("datetime64[D]").astype(np.int64)  # days since 1970-01-01
    if data.period == "day":
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        for k in (1, 2, 3):
            columns += [np.sin(2 * np.pi * k * weekday / 7), np.cos(2 * np.pi * k * weekday / 7)]
            names += [f"weekly_sin{k}", f"weekly_cos{k}"]
    if data.periods * (1 if data.period == "day" else 7) >= 300:
        # A yearly cycle is only told apart from trend and moments over most of a year.
        for k in range(1, yearly_order + 1):
            angle = 2 * np.pi * k * days / 365.25
            columns += [np.sin(angle), np.cos(angle)]
            names += [f"yearly_sin{k}", f"yearly_cos{k}"]
    if holidays:
        for name, share in moment_shares(data).items():
            columns.append(share)
            names.append(name)
    for k, name in enumerate(data.control_names):
        columns.append(data.controls[k])
        names.append(name)
    return Baseline(np.column_stack(columns), tuple(names))


def moment_shares(data: MMMData) -> dict[str, np.ndarray]:
    """Per moment in the data, the share of each period's days inside it (0 or 1 by day)."""
    length = 1 if data.period == "day" else 7
    first = data.dates[0].astype(object)
    span = data.periods * length
    covered: dict[str, np.ndarray] = {}
    for name, window in MOMENTS.items():
        daily = np.zeros(span)
        for year in range(first.year - 1, first.year + span // 365 + 2):
            start, end = window(year)
            lo = max((start - first).days, 0)
            hi = min((end - first).days + 1, span)
            if lo < hi:
                daily[lo:hi] = 1.0
        share = daily.reshape(data.periods, length).mean(axis=1)
        if share.any() and not share.all():
            covered[name] = share
    return covered
