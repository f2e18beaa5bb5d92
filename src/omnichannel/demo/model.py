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


def local_to_utc_seconds(day: IntArray, local_seconds: IntArray | FloatArray) -> IntArray:
    """Seconds after the UTC epoch for a day index and seconds since local midnight."""
    return (day.astype(np.int64) * 86_400 + np.asarray(local_seconds, dtype=np.int64)
            - UTC_OFFSET_HOURS * 3_600)


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
