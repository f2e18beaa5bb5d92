"""The survey figures and their uncertainty: NPS, CSAT, CES, response rate, before/after.

- **NPS** = 100 x (share of promoters - share of detractors). Each answer is one draw of
  a three-way multinomial (promoter, passive, detractor), so the variance of the
  difference of two of its shares is ``(p + d - (p - d)^2) / n`` (Var p + Var d - 2 Cov,
  with Cov(p, d) = -pd/n); the 95 % interval is NPS +- 1.96 x 100 x sqrt(that).
- **CSAT** = share of satisfied answers (4 or 5 of 5), with the Wilson score interval,
  which stays inside [0, 1] and is honest for small groups and shares near 0 or 1.
- **CES** = mean score (1-7), with the normal interval of a mean.
- **Before/after**: the difference of the two periods' figures, its standard error
  (the two variances added: independent samples), z and a two-sided p-value; "beyond
  noise" when p < alpha.

Example::

    nps_of([10, 9, 3, 8])        # {"value": 25.0, "low": ..., "high": ..., "n": 4, ...}
    wilson(30, 40)               # (0.604, 0.858)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Z95 = 1.959963984540054
ALPHA = 0.05


def _normal_p(z: float) -> float:
    """Two-sided p-value of a standard normal z."""
    return math.erfc(abs(z) / math.sqrt(2))


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of a proportion (None, None without answers)."""
    if n <= 0:
        return None, None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def nps_of(scores: Sequence[float]) -> dict[str, Any]:
    n = len(scores)
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    out: dict[str, Any] = {
        "n": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "value": None,
        "low": None,
        "high": None,
        "variance": None,
    }
    if n == 0:
        return out
    p, d = promoters / n, detractors / n
    variance = (p + d - (p - d) ** 2) / n * 100 * 100
    half = Z95 * math.sqrt(variance)
    value = 100 * (p - d)
    out.update(
        value=round(value, 2),
        low=round(max(-100.0, value - half), 2),
        high=round(min(100.0, value + half), 2),
        variance=variance,
    )
    return out


def csat_of(scores: Sequence[float]) -> dict[str, Any]:
    n = len(scores)
    satisfied = sum(1 for s in scores if s >= 4)
    low, high = wilson(satisfied, n)
    share = satisfied / n if n else None
    return {
        "n": n,
        "satisfied": satisfied,
        "value": round(100 * share, 2) if share is not None else None,
        "low": round(100 * low, 2) if low is not None else None,
        "high": round(100 * high, 2) if high is not None else None,
        "variance": (share * (1 - share) / n * 100 * 100) if share is not None else None,
    }


def mean_of(scores: Sequence[float]) -> dict[str, Any]:
    n = len(scores)
    if n == 0:
        return {"n": 0, "value": None, "low": None, "high": None, "variance": None}
    mean = sum(scores) / n
    var = sum((s - mean) ** 2 for s in scores) / (n - 1) if n > 1 else 0.0
    half = Z95 * math.sqrt(var / n)
    return {
        "n": n,
        "value": round(mean, 3),
        "low": round(mean - half, 3),
        "high": round(mean + half, 3),
        "variance": var / n,
    }


FIGURES = {"nps": nps_of, "csat": csat_of, "ces": mean_of}


def figure(kind: str, scores: Sequence[float]) -> dict[str, Any]:
    """The kind's figure (a custom survey's score is read as a mean)."""
    return FIGURES.get(kind, mean_of)(scores)


def compare(before: dict[str, Any], after: dict[str, Any], alpha: float = ALPHA) -> dict[str, Any]:
    """After minus before, with its standard error, z, p and whether it is beyond noise."""
    if before["value"] is None or after["value"] is None:
        return {"difference": None, "se": None, "z": None, "p_value": None, "beyond_noise": False}
    difference = after["value"] - before["value"]
    se = math.sqrt((before["variance"] or 0.0) + (after["variance"] or 0.0))
    if se == 0:
        z = math.inf if difference else 0.0
        p = 0.0 if difference else 1.0
    else:
        z = difference / se
        p = _normal_p(z)
    return {
        "difference": round(difference, 3),
        "se": round(se, 3),
        "low": round(difference - Z95 * se, 3),
        "high": round(difference + Z95 * se, 3),
        "z": round(z, 3) if math.isfinite(z) else None,
        "p_value": round(p, 4),
        "beyond_noise": p < alpha,
    }


def public(fig: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fig.items() if k != "variance"}
