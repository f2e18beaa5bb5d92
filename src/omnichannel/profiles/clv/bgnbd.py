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

The fit works on ``RfmStatistics`` (one weighted row per distinct (x, t_x, T), the terms
that depend on x alone computed once per distinct x) with an analytic gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from omnichannel.errors import ValidationError
from omnichannel.profiles.clv.mle import ArrayLike, FloatArray, Optimum, dot, maximise


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


@dataclass(frozen=True, slots=True)
class RfmStatistics:
    """The customers as the BG/NBD likelihood sees them (sufficient statistics).

    Per customer the likelihood is Gamma and Beta function ratios in x alone, times
    ``A_alive + [x > 0] A_dropped`` with
    ``ln A_alive = ln B(a, b+x) - ln B(a, b) - (r+x) ln(alpha+T)`` and
    ``ln A_dropped = ln B(a+1, b+x-1) - ln B(a, b) - (r+x) ln(alpha+t_x)``.
    Customers sharing (x, t_x, T) are one weighted row (daily data from a large shop has
    many); the x-only terms are evaluated once per distinct x and gathered.
    """

    frequencies: FloatArray  # distinct x
    frequency_weights: FloatArray  # customers with each distinct x
    row_index: npt.NDArray[np.intp]  # position of each row's x in ``frequencies``
    frequency: FloatArray  # x per row
    recency: FloatArray  # t_x per row
    age: FloatArray  # T per row
    weights: FloatArray  # customers per row
    customers: float

    @classmethod
    def of(cls, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> RfmStatistics:
        x, t_x, t = _arrays(frequency, recency, age)
        rows, counts = np.unique(np.column_stack([x, t_x, t]), axis=0, return_counts=True)
        weights = counts.astype(float)
        frequencies, row_index = np.unique(rows[:, 0], return_inverse=True)
        return cls(
            frequencies=frequencies,
            frequency_weights=np.bincount(row_index, weights=weights).astype(np.float64),
            row_index=row_index.ravel(),
            frequency=rows[:, 0],
            recency=rows[:, 1],
            age=rows[:, 2],
            weights=weights,
            customers=float(x.size),
        )

    def log_likelihood_and_gradient(self, params: ArrayLike) -> tuple[float, FloatArray]:
        """Total log-likelihood at (r, alpha, a, b) and its gradient in (r, alpha, a, b)."""
        # numpy scalars, so a parameter that underflowed to 0 divides to inf, not a crash
        r, alpha, a, b = np.asarray(params, dtype=np.float64)
        xs, w_x = self.frequencies, self.frequency_weights
        repeat = xs > 0
        safe_xs = np.where(repeat, xs, 1.0)  # b + x - 1 < 0 is possible for x = 0
        beta_ab = betaln(a, b)
        log_alive_x = betaln(a, b + xs) - beta_ab
        log_dropped_x = np.where(repeat, betaln(a + 1.0, b + safe_xs - 1.0) - beta_ab, -np.inf)

        # r ln(alpha) - (r+x) ln(alpha+T) = -r ln(1 + T/alpha) - x ln(alpha+T): written this
        # way nothing cancels when r and alpha run off together (no heterogeneity in rates).
        idx, x, t_x, t, w = self.row_index, self.frequency, self.recency, self.age, self.weights
        log1p_age, log1p_recency = np.log1p(t / alpha), np.log1p(t_x / alpha)
        log_alive = log_alive_x[idx] - r * log1p_age - x * np.log(alpha + t)
        log_dropped = log_dropped_x[idx] - r * log1p_recency - x * np.log(alpha + t_x)
        # ln(A_alive + A_dropped) as max + ln(1 + exp(-|difference|)); x = 0 has no
        # dropped term (-inf), which this handles without a warning.
        difference = log_dropped - log_alive
        total = np.maximum(log_alive, log_dropped) + np.log1p(np.exp(-np.abs(difference)))
        # lnG(r+x) - lnG(r) = lnG(x) - ln B(x, r) for x > 0, exact also when r is huge.
        log_rate_ratio = np.where(repeat, gammaln(safe_xs) - betaln(safe_xs, r), 0.0)
        value = dot(w_x, log_rate_ratio) + dot(w, total)

        # The gradient of ln(A_alive + A_dropped) is the mix of the two terms' gradients,
        # weighted by each term's share of the sum (the shares of a row add up to its weight).
        dropped_share = w * expit(difference)
        alive_share = w - dropped_share
        d_r = (
            dot(w_x, digamma(r + xs) - digamma(r))
            - dot(alive_share, log1p_age)
            - dot(dropped_share, log1p_recency)
        )
        # r/alpha - (r+x)/(alpha+T) = (r T - alpha x) / (alpha (alpha+T)), likewise for t_x.
        d_alpha = (
            dot(alive_share, (r * t - alpha * x) / (alpha + t))
            + dot(dropped_share, (r * t_x - alpha * x) / (alpha + t_x))
        ) / alpha
        common_ab = dot(w_x, digamma(a + b) - digamma(a + b + xs))
        d_a = common_ab + float(dropped_share.sum()) / a
        alive_by_x = np.bincount(idx, weights=alive_share, minlength=xs.size)
        dropped_by_x = np.bincount(idx, weights=dropped_share, minlength=xs.size)
        d_b = (
            common_ab
            + dot(alive_by_x, digamma(b + xs) - digamma(b))
            + dot(dropped_by_x, digamma(b + safe_xs - 1.0) - digamma(b))
        )
        return float(value), np.array([d_r, d_alpha, d_a, d_b])


def maximum_likelihood(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> Optimum:
    """The optimiser's answer for (r, alpha, a, b), with its iteration and evaluation counts."""
    validate_rfm(frequency, recency, age)
    stats = RfmStatistics.of(frequency, recency, age)
    mean_age = dot(stats.weights, stats.age) / stats.customers
    # alpha is a time scale: starting it at the mean age keeps the first steps sensible
    # whether the periods are days or weeks.
    start = np.array([1.0, max(mean_age, 1e-3), 1.0, 1.0])
    return maximise(stats.log_likelihood_and_gradient, start, n=stats.customers, model="BG/NBD")


def fit(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> BgNbdParams:
    """Maximum-likelihood (r, alpha, a, b).

    Example::

        p = fit(s.customers["frequency"], s.customers["recency"], s.customers["T"])
        round(p.r, 3), round(p.alpha, 3)   # CDNOW, weekly: (0.243, 4.414)
    """
    optimum = maximum_likelihood(frequency, recency, age)
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
