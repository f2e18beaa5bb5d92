"""The estimator alone (numpy): the prior strength follows the data, smoothing wraps around."""

from __future__ import annotations

import numpy as np

from omnichannel.sendtime.model import Counts, estimate, smooth


def _crowd(peak_spread: float, own_spread: float, people: int = 150) -> tuple[Counts, Counts]:
    """Active hours of people whose peaks scatter by ``peak_spread`` around 20:00 and who
    each keep within ``own_spread`` hours of their own; a third of the hours hold a click."""
    rng = np.random.default_rng(5)
    keys, opened = [], []
    for person in range(people):
        peak = 20 + rng.normal(0, peak_spread)
        for day in rng.choice(70, size=30, replace=False):
            hour = round(float(peak + rng.normal(0, own_spread))) % 24
            keys.append(person * 168 + (day % 7) * 24 + hour)
            opened.append(rng.random() < 1 / 3)
    key, is_open = np.array(keys), np.array(opened)

    def counts(mask: np.ndarray) -> Counts:
        k, n = np.unique(key[mask], return_counts=True)
        return Counts.of(k // 168, k % 168, n.astype(float))

    return counts(np.ones(len(key), dtype=bool)), counts(is_open)


def _strength(peak_spread: float, own_spread: float) -> float:
    active, opens = _crowd(peak_spread, own_spread)
    [email] = estimate({"email": opens}, active, 150)
    return email.fit.prior_strength


def test_people_alike_make_a_strong_prior_people_apart_a_weak_one() -> None:
    alike = _strength(peak_spread=0.3, own_spread=2.5)  # everyone the crowd
    apart = _strength(peak_spread=3.0, own_spread=0.7)  # everyone their own hour
    assert alike > 10 * apart
    assert apart > 1


def test_smoothing_keeps_totals_and_wraps_from_sunday_night_to_monday_morning() -> None:
    counts = np.zeros(168)
    counts[167] = 7.0  # Sunday 23:00
    smoothed = smooth(counts[None, :])[0]
    assert abs(smoothed.sum() - 7.0) < 1e-9
    assert smoothed[0] > 0.5 and smoothed[0] > smoothed[3]  # Monday 00:00, next to it
    assert smoothed[23] > smoothed[12]  # 23:00 on other days shares in it too
