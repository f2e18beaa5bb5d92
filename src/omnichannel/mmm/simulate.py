"""Data with a known answer: spend, adstock, saturation and ROI per channel, seeded.

``simulate`` draws flighted spend per channel (bursts on and off air, as media is
bought), applies each channel's true geometric adstock and Hill curve, adds a baseline
(level, trend, weekly and yearly seasonality) and noise, and keeps the truth: decay,
half, shape, top, and the contribution, share and ROI that spend really had. A fit of
the result is scored against ``Simulation.truth``.

Example::

    sim = simulate(days=730, channels=4, seed=1)
    result = fit(sim.data)
    sim.truth["roi"], [row["roi"]["value"] for row in result.report()["channels"]]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from omnichannel.mmm.curves import geometric_adstock, hill
from omnichannel.mmm.data import MMMData, from_frame

NAMES = ("search", "social", "display", "video", "tv", "radio", "print", "affiliate")


@dataclass(frozen=True)
class Simulation:
    data: MMMData
    frame: pd.DataFrame  # the same data as a table (date, sales, one column per channel)
    truth: dict[str, Any]  # per channel lists: decay, half, shape, top, contribution...


def simulate(
    *,
    days: int = 730,
    channels: int = 4,
    seed: int = 0,
    noise: float = 0.05,
    start: date = date(2024, 1, 1),
) -> Simulation:
    """``days`` of daily sales driven by ``channels`` channels (at most 8), seeded."""
    rng = np.random.default_rng(seed)
    names = [NAMES[c] if c < len(NAMES) else f"channel_{c + 1}" for c in range(channels)]
    dates = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days)
    spend = np.zeros((channels, days))
    decay = rng.uniform(0.1, 0.8, channels)
    shape = rng.uniform(0.8, 2.2, channels)
    level = rng.uniform(500, 5000, channels)  # typical daily spend on air
    for c in range(channels):
        day = int(rng.integers(0, 14))
        while day < days:
            length = int(rng.integers(7, 35))
            spend[c, day : day + length] = (
                level[c]
                * rng.uniform(0.3, 2.0)
                * rng.uniform(0.8, 1.2, size=min(length, days - day))
            )
            day += length + int(rng.integers(5, 30))
    spend = np.round(spend, 2)
    steady = level / (1.0 - decay)
    half = steady * rng.uniform(0.5, 2.0, channels)
    base_level = 1000.0
    top = base_level * rng.uniform(0.1, 0.4, channels)
    effect = np.vstack(
        [
            hill(geometric_adstock(spend[c], decay[c]), half[c], shape[c], top[c])
            for c in range(channels)
        ]
    )
    weekday = dates.weekday.to_numpy()
    baseline = (
        base_level
        * (1.0 + 0.1 * t / days)
        * (1.0 + 0.08 * np.sin(2 * np.pi * t / 365.25))
        * np.where(weekday >= 5, 1.12, 1.0)
    )
    expected = baseline + effect.sum(axis=0)
    sales = np.round(expected * (1.0 + noise * rng.standard_normal(days)), 2)
    frame = pd.DataFrame({"date": dates.date, "sales": sales})
    for c, name in enumerate(names):
        frame[name] = spend[c]
    contribution = effect.sum(axis=1)
    truth = {
        "channels": names,
        "decay": decay.tolist(),
        "half": half.tolist(),
        "shape": shape.tolist(),
        "top": top.tolist(),
        "spend": spend.sum(axis=1).tolist(),
        "contribution": contribution.tolist(),
        "share": (contribution / contribution.sum()).tolist(),
        "roi": (contribution / spend.sum(axis=1)).tolist(),
    }
    data = from_frame(frame, date_col="date", target_col="sales", spend_cols=names, period="day")
    return Simulation(data, frame, truth)
