"""The demo's knobs, its summary, and the calendar every generator shares.

All timestamps are naive UTC. The business lives in China (UTC+8, no daylight saving),
so a local wall-clock hour ``h`` is stored as ``h - 8`` UTC; generators think in local
time and convert once, through :func:`local_to_utc_seconds`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from omnichannel.errors import ValidationError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

UTC_OFFSET_HOURS = 8
TIMEZONE = "Asia/Shanghai"
CURRENCY = "CNY"
COUNTRY = "CN"
BRAND = "Lotus & Pine"
DOMAIN = "lotusandpine.cn"


@dataclass(frozen=True)
class DemoConfig:
    """How big a demo business to generate; the same config always gives the same data."""

    seed: int = 7
    people: int = 20_000
    days: int = 180
    start: date = date(2026, 1, 1)

    def __post_init__(self) -> None:
        if self.people < 10:
            raise ValidationError("people", self.people, "an integer >= 10")
        if self.days < 7:
            raise ValidationError("days", self.days, "an integer >= 7")

    @property
    def scale(self) -> float:
        """Size relative to the default business; campaign budgets and effects follow it."""
        return self.people / 20_000

    @property
    def epoch(self) -> datetime:
        """Midnight UTC of the first day; all generator times are seconds after it."""
        return datetime(self.start.year, self.start.month, self.start.day)

    def day_dates(self) -> list[date]:
        return [self.start + timedelta(days=d) for d in range(self.days)]


@dataclass
class DemoSummary:
    """What ``run_demo`` produced, for the CLI to show and tests to check."""

    people: int = 0
    identifiers: int = 0
    identifiers_per_person: float = 0.0
    source_systems: int = 0
    customer_records: int = 0
    events: int = 0
    orders: int = 0
    order_lines: int = 0
    campaigns: int = 0
    ad_spend_rows: int = 0
    products: int = 0
    content_items: int = 0
    stores: int = 0
    deliveries: int = 0
    seconds: float = 0.0
    truth_dir: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        return data


# Chinese New Year moves with the lunar calendar; these are the years a demo may cover.
LUNAR_NEW_YEAR = {
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}


def day_weights(config: DemoConfig, in_store: bool = False) -> FloatArray:
    """Relative activity per day: weekends, Chinese New Year, 38, May Day, 520, 618, Double 11.

    Online shopping dips over the New Year holiday (people travel home) while the weeks
    before it peak; stores gain more from weekends and holidays than online does.
    """
    out = np.ones(config.days)
    for k, day in enumerate(config.day_dates()):
        w = (1.6 if in_store else 1.15) if day.weekday() >= 5 else 1.0
        lny = LUNAR_NEW_YEAR.get(day.year, date(day.year, 2, 1))
        offset = (day - lny).days
        if -25 <= offset <= -3:
            w *= 1.35
        elif -2 <= offset <= 6:
            w *= 0.5 if in_store else 0.75
        md = (day.month, day.day)
        if (3, 5) <= md <= (3, 8) or (5, 18) <= md <= (5, 20) or (12, 10) <= md <= (12, 12):
            w *= 1.3
        elif (5, 1) <= md <= (5, 5) or (10, 1) <= md <= (10, 7):
            w *= 1.4 if in_store else 1.15
        elif (6, 1) <= md <= (6, 17) or (11, 1) <= md <= (11, 10):
            w *= 1.4
        elif md in ((6, 18), (11, 11)):
            w *= 1.6 if in_store else 2.6
        out[k] = w
    return out


def local_to_utc_seconds(day: IntArray, local_seconds: IntArray | FloatArray) -> IntArray:
    """Seconds after the UTC epoch for a day index and seconds since local midnight."""
    return (
        day.astype(np.int64) * 86_400
        + np.asarray(local_seconds, dtype=np.int64)
        - UTC_OFFSET_HOURS * 3_600
    )


def to_timestamp(config: DemoConfig, seconds: IntArray) -> npt.NDArray[np.datetime64]:
    """Generator seconds as numpy datetime64[ms] (naive UTC)."""
    base = np.datetime64(config.epoch, "ms")
    return base + (np.asarray(seconds, dtype=np.int64) * 1000).astype("timedelta64[ms]")


def sample_from_cdf(rng: np.random.Generator, cdf: FloatArray, n: int) -> IntArray:
    """Indices drawn with probabilities given by a cumulative distribution (last item 1)."""
    return np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").astype(np.int64)


def sample_rows(rng: np.random.Generator, weights: FloatArray, rows: IntArray) -> IntArray:
    """For each entry of ``rows``, a column of ``weights[row]`` drawn proportionally."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(rows)) * cum[rows, -1]
    return (cum[rows] <= u[:, None]).sum(axis=1).astype(np.int64)


def child_rng(config: DemoConfig, stream: str) -> np.random.Generator:
    """An independent, reproducible random stream per generator stage.

    Each stage gets its own stream so that changing how one stage draws numbers does not
    shift every later stage's data.
    """
    key = [config.seed, *(ord(c) for c in stream)]
    return np.random.default_rng(key)


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
