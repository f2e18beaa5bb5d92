"""Draw a customer base from the BG/NBD and Gamma-Gamma stories, as a ``Summary.customers``.

For checking a fit where the answer is known (tests, ``benchmarks/clv_fit.py``) and for
seeing what given parameters imply. Each customer makes her first purchase at a uniform
time in the first ``cohort_periods`` periods; while alive she buys at her rate
lambda ~ Gamma(r, alpha) and after every repeat purchase drops out with her probability
p ~ Beta(a, b) (FHL 2005, section 3). Her mean repeat spend is the mean of x draws of
Gamma(p, nu), nu ~ Gamma(q, gamma). Times are rounded to whole days, as a summary of real
orders would be.

Example::

    customers = simulate(BgNbdParams(0.24, 4.41, 0.79, 2.43),
                         GammaGammaParams(6.25, 3.74, 15.44), customers=10_000, seed=1)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from omnichannel.errors import ValidationError
from omnichannel.profiles.clv.bgnbd import BgNbdParams
from omnichannel.profiles.clv.gamma_gamma import GammaGammaParams


def simulate(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    *,
    customers: int,
    calibration_periods: float = 39.0,
    cohort_periods: float = 12.0,
    days_per_period: int = 7,
    seed: int = 0,
) -> pd.DataFrame:
    """Per customer: ``frequency``, ``recency``, ``T`` (in periods) and ``monetary``."""
    if customers < 1:
        raise ValidationError("customers", customers, "at least 1")
    if not 0 < cohort_periods <= calibration_periods:
        raise ValidationError(
            "cohort_periods", cohort_periods, f"a number in (0, {calibration_periods}]"
        )
    rng = np.random.default_rng(seed)
    first = rng.uniform(0.0, cohort_periods, customers)
    age = _whole_days(calibration_periods - first, days_per_period)
    frequency, recency = _purchases(bgnbd, age, rng)
    monetary = _mean_spend(gamma_gamma, frequency, rng)
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": _whole_days(recency, days_per_period),
            "T": age,
            "monetary": monetary,
        }
    )


def _whole_days(periods: np.ndarray, days_per_period: int) -> np.ndarray:
    return np.floor(periods * days_per_period) / days_per_period


def _purchases(
    params: BgNbdParams, age: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchases and the time of the last, by stepping all customers at once."""
    n = age.size
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    clock = np.zeros(n)
    frequency = np.zeros(n, dtype=np.int64)
    recency = np.zeros(n)
    active = np.arange(n)
    while active.size:
        clock[active] += rng.exponential(1.0, active.size) / rate[active]
        bought = clock[active] <= age[active]
        buyers = active[bought]
        frequency[buyers] += 1
        recency[buyers] = clock[buyers]
        # Only a purchase can end a customer's life, so the survivors are the buyers who
        # did not drop out right after it.
        active = buyers[rng.random(buyers.size) >= dropout[buyers]]
    return frequency, recency


def _mean_spend(
    params: GammaGammaParams, frequency: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Mean of x transaction values for repeat buyers (0 for the others)."""
    nu = rng.gamma(params.q, 1.0 / params.gamma, frequency.size)
    repeat = frequency > 0
    monetary = np.zeros(frequency.size)
    x = frequency[repeat]
    # The mean of x Gamma(p, nu) draws is Gamma(p x, nu x).
    monetary[repeat] = rng.gamma(params.p * x, 1.0 / (nu[repeat] * x))
    return np.round(monetary, 2)
