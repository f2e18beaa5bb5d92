"""The BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers the easy way".

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after
every purchase she drops out with probability p ~ Beta(a, b). From each customer's
frequency x, recency t_x and age T we estimate (r, alpha, a, b) by maximum likelihood and
then predict purchases, P(alive) and conditional expected purchases.

Written by hand with numpy/scipy rather than taken from a library: ``lifetimes`` is
unmaintained (last release 2020, breaks with current pandas/scipy) and ``pymc-marketing``
pulls in PyMC and a compiler toolchain, both too heavy for one likelihood of four
parameters. Everything is computed in log-space (``gammaln``, ``betaln``, ``logaddexp``)
so customers with hundreds of purchases do not overflow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1

from omnichannel.errors import ValidationError
from omnichannel.profiles.clv.mle import ArrayLike, FloatArray, maximise


@dataclass(frozen=True, slots=True)
class BgNbdParams:
    """Fitted BG/NBD parameters; times are in the periods the model was fitted in."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def _arrays(
    frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    t = np.asarray(age, dtype=float)
    return x, t_x, t


def log_likelihood_terms(
    params: tuple[float, float, float, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
) -> FloatArray:
    """Per-customer log-likelihood, FHL (2005) eq. 6, in log-space."""
    r, alpha, a, b = params
    x, t_x, t = _arrays(frequency, recency, age)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    still_alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t)
    repeat = x > 0
    # The dropped-out-after-last-purchase term exists only for repeat buyers; for x = 0
    # b + x - 1 may be negative, so it is evaluated on a safe value and masked out.
    safe_x = np.where(repeat, x, 1.0)
    dropped = betaln(a + 1, b + safe_x - 1) - betaln(a, b) - (r + safe_x) * np.log(alpha + t_x)
    return common + np.where(repeat, np.logaddexp(still_alive, dropped), still_alive)


def log_likelihood(
    params: tuple[float, float, float, float],
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    weights: FloatArray | None = None,
) -> float:
    """Total log-likelihood of the customers (each row counted ``weights`` times)."""
    terms = log_likelihood_terms(params, frequency, recency, age)
    return float(np.sum(terms if weights is None else terms * weights))


def validate_rfm(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> None:
    """Reject inputs the model cannot describe, naming what is wrong."""
    x, t_x, t = _arrays(frequency, recency, age)
    if x.size == 0:
        raise ValidationError("customers", 0, "at least one customer in the calibration period")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValidationError("frequency", x[(x < 0) | (x != np.round(x))][0], "integers >= 0")
    if np.any(t_x < 0) or np.any(t_x > t + 1e-9):
        raise ValidationError("recency", "outside [0, T]", "0 <= recency <= T for every customer")
    if not np.any(x > 0):
        raise ValidationError(
            "frequency",
            "no repeat buyers",
            "at least one customer with a repeat purchase in the calibration period "
            "(move --calibration-end later)",
        )


def fit(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> BgNbdParams:
    """Maximum-likelihood (r, alpha, a, b).

    Example::

        p = fit(s.customers["frequency"], s.customers["recency"], s.customers["T"])
        round(p.r, 3), round(p.alpha, 3)   # CDNOW, weekly: (0.243, 4.414)
    """
    validate_rfm(frequency, recency, age)
    x, t_x, t = _arrays(frequency, recency, age)
    # Customers sharing (x, t_x, T) contribute identical terms; daily data from a large
    # shop has many, so the likelihood is summed over the distinct rows with weights.
    rows, counts = np.unique(np.column_stack([x, t_x, t]), axis=0, return_counts=True)
    weights = counts.astype(float)
    # alpha is a time scale: starting it at the mean age keeps the first steps sensible
    # whether the periods are days or weeks.
    start = np.array([1.0, max(float(np.mean(t)), 1e-3), 1.0, 1.0])
    optimum = maximise(
        lambda p: log_likelihood(
            (p[0], p[1], p[2], p[3]), rows[:, 0], rows[:, 1], rows[:, 2], weights
        ),
        start,
        n=float(x.size),
        model="BG/NBD",
    )
    r, alpha, a, b = (float(v) for v in optimum.params)
    return BgNbdParams(r, alpha, a, b, optimum.log_likelihood)


def _scaled_tail(a: float, b: float, r: float, x: FloatArray, z: FloatArray) -> FloatArray:
    """(1 - z)^(r+x) * 2F1(r+x, b+x; a+b+x-1; z), through Euler's transformation.

    The direct series diverges as z -> 1 (its c - a - b = a - 1 - r - x < 0) and overflows
    for frequent buyers; the transformed 2F1(a+b-1-r, a-1; a+b+x-1; z) times (1-z)^(a-1)
    is the same number but bounded, with parameters that do not grow with x.
    """
    return np.power(1.0 - z, a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)


def expected_purchases(params: BgNbdParams, t: ArrayLike) -> FloatArray:
    """E[X(t)]: expected purchases of a new customer in her first ``t`` periods (FHL eq. 7)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1.0) / (a - 1.0) * (1.0 - _scaled_tail(a, b, r, np.zeros_like(t), z))


def _log_death_odds(
    params: BgNbdParams, x: FloatArray, t_x: FloatArray, t: FloatArray
) -> FloatArray:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x), the odds a repeat buyer has left."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    safe_x = np.where(x > 0, x, 1.0)
    odds = (
        np.log(a)
        - np.log(b + safe_x - 1.0)
        + (r + safe_x) * (np.log(alpha + t) - np.log(alpha + t_x))
    )
    # Someone who never repeated cannot have dropped out: BG/NBD only lets a customer
    # leave right after a purchase, and the first purchase starts the clock.
    return np.where(x > 0, odds, -np.inf)


def probability_alive(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """P(alive | x, t_x, T) (FHL 2005, appendix), as 1 / (1 + odds) computed without overflow."""
    x, t_x, t = _arrays(frequency, recency, age)
    return np.exp(-np.logaddexp(0.0, _log_death_odds(params, x, t_x, t)))


def conditional_expected_purchases(
    params: BgNbdParams,
    horizon: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
) -> FloatArray:
    """E[Y(horizon) | x, t_x, T]: expected purchases in the next ``horizon`` periods (FHL eq. 10).

    Example::

        conditional_expected_purchases(p, 39.0, [2], [30.43], [38.86])   # about 0.8 on CDNOW
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, t = _arrays(frequency, recency, age)
    horizon = np.asarray(horizon, dtype=float)
    z = horizon / (alpha + t + horizon)
    alive_part = (a + b + x - 1.0) / (a - 1.0) * (1.0 - _scaled_tail(a, b, r, x, z))
    return alive_part * probability_alive(params, x, t_x, t)
