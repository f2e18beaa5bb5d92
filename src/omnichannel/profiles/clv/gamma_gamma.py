"""The Gamma-Gamma spend model of Fader, Hardie & Lee (2005), "RFM and CLV".

A customer's transaction values are Gamma(p, nu) with her own scale nu ~ Gamma(q, gamma),
so her mean spend varies across customers but not over time, independently of how often
she buys. Fitted on the repeat buyers' mean repeat-transaction value ``monetary`` (m_x)
and count ``frequency`` (x); written by hand for the same reasons as ``bgnbd``.

The likelihood sees a customer only through (x, m_x), so the fit works on
``SpendStatistics``: one weighted row per distinct pair, the parameter-free sums taken
once, and an analytic gradient (``gammaln``/``digamma``) for the optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln

from omnichannel.errors import ValidationError
from omnichannel.profiles.clv.mle import ArrayLike, FloatArray, Optimum, dot, maximise


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters, in the currency of the amounts."""

    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean(self) -> float:
        """Expected average transaction value of a customer we know nothing about (q > 1)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")


def log_likelihood_terms(
    params: tuple[float, float, float], frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """Per-customer log density of the mean spend m_x given x transactions (FHL 2005 eq. 3)."""
    p, q, gamma = params
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x)
    )


def log_likelihood(
    params: tuple[float, float, float], frequency: ArrayLike, monetary: ArrayLike
) -> float:
    return float(np.sum(log_likelihood_terms(params, frequency, monetary)))


def repeat_buyers(frequency: ArrayLike, monetary: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The customers the model is fitted on: at least one repeat purchase of positive value."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    keep = (x > 0) & (m > 0)
    if not keep.any():
        raise ValidationError(
            "monetary",
            "no repeat buyers with a positive amount",
            "at least one customer with a repeat purchase of value > 0 in the calibration period",
        )
    return x[keep], m[keep]


@dataclass(frozen=True, slots=True)
class SpendStatistics:
    """The repeat buyers as the Gamma-Gamma likelihood sees them (sufficient statistics).

    Per customer the log density is
    lnG(px+q) - lnG(px) - lnG(q) + q ln(g) + (px-1) ln(m) + px ln(x) - (px+q) ln(g + x m);
    the first two terms depend on x alone (a few hundred distinct values at most), the
    ln(m) and ln(x) terms are linear in p with sums fixed by the data, and only the last
    needs a row per distinct (x, m).
    """

    frequencies: FloatArray  # distinct x
    frequency_counts: FloatArray  # customers with each distinct x
    row_frequency: FloatArray  # x of each distinct (x, m) row
    row_total: FloatArray  # x * m of each row: the customer's total repeat spend
    row_weights: FloatArray  # customers in each row
    customers: float
    sum_frequency: float  # sum over customers of x
    sum_log_mean: float  # sum over customers of ln(m)
    sum_x_log_total: float  # sum over customers of x ln(x m)

    @classmethod
    def of(cls, frequency: ArrayLike, monetary: ArrayLike) -> SpendStatistics:
        """Summarise the repeat buyers among the given customers (see ``repeat_buyers``)."""
        x, m = repeat_buyers(frequency, monetary)
        rows, weights = np.unique(np.column_stack([x, m]), axis=0, return_counts=True)
        frequencies, counts = np.unique(x, return_counts=True)
        return cls(
            frequencies=frequencies,
            frequency_counts=counts.astype(float),
            row_frequency=rows[:, 0],
            row_total=rows[:, 0] * rows[:, 1],
            row_weights=weights.astype(float),
            customers=float(x.size),
            sum_frequency=float(np.sum(x)),
            sum_log_mean=float(np.sum(np.log(m))),
            sum_x_log_total=float(np.sum(x * np.log(x * m))),
        )

    @property
    def mean_monetary(self) -> float:
        """Mean of m over the repeat buyers."""
        means = self.row_total / self.row_frequency
        return dot(self.row_weights, means) / self.customers

    def log_likelihood_and_gradient(self, params: ArrayLike) -> tuple[float, FloatArray]:
        """Total log-likelihood at (p, q, gamma) and its gradient in (p, q, gamma)."""
        # numpy scalars, so a parameter that underflowed to 0 divides to inf, not a crash
        p, q, gamma = np.asarray(params, dtype=np.float64)
        counts, xs, px = self.frequency_counts, self.frequencies, p * self.frequencies
        # q ln(g) - (px+q) ln(g + z) = -px ln(g) - (px+q) ln(1 + z/g): nothing cancels when
        # q and gamma run off together (every customer with the same mean spend).
        log1p_total = np.log1p(self.row_total / gamma)
        weighted = self.row_weights * log1p_total
        x_weighted = dot(self.row_frequency, weighted)
        value = (
            # lnG(px+q) - lnG(px) - lnG(q) = -ln B(px, q); scipy's betaln stays exact when
            # q is huge, where the three gammaln would cancel to noise.
            -dot(counts, betaln(px, q))
            + p * (self.sum_x_log_total - self.sum_frequency * np.log(gamma) - x_weighted)
            - self.sum_log_mean
            - q * float(weighted.sum())
        )
        digamma_pxq = digamma(px + q)
        d_p = (
            dot(counts, xs * (digamma_pxq - digamma(px)))
            + self.sum_x_log_total
            - self.sum_frequency * np.log(gamma)
            - x_weighted
        )
        d_q = dot(counts, digamma_pxq - digamma(q)) - float(weighted.sum())
        # q/g - (px+q)/(g+z) = (q z - g p x) / (g (g+z)).
        excess = q * self.row_total - gamma * p * self.row_frequency
        d_gamma = dot(self.row_weights, excess / (gamma + self.row_total)) / gamma
        return float(value), np.array([d_p, d_q, d_gamma])


def maximum_likelihood(frequency: ArrayLike, monetary: ArrayLike) -> Optimum:
    """The optimiser's answer for (p, q, gamma), with its iteration and evaluation counts."""
    stats = SpendStatistics.of(frequency, monetary)
    # With p = 1, q = 2 the population mean spend is gamma, so starting gamma at the mean
    # observed spend puts the search at the right scale for any currency unit.
    start = np.array([1.0, 2.0, stats.mean_monetary])
    return maximise(
        stats.log_likelihood_and_gradient, start, n=stats.customers, model="Gamma-Gamma"
    )


def fit(frequency: ArrayLike, monetary: ArrayLike) -> GammaGammaParams:
    """Maximum-likelihood (p, q, gamma) on the repeat buyers among the given customers.

    Example::

        gg = fit(s.customers["frequency"], s.customers["monetary"])
        round(gg.p, 2), round(gg.q, 2), round(gg.gamma, 2)   # CDNOW: (6.25, 3.74, 15.44)
    """
    optimum = maximum_likelihood(frequency, monetary)
    p, q, gamma = (float(v) for v in optimum.params)
    return GammaGammaParams(p, q, gamma, optimum.log_likelihood)


def conditional_expected_average_value(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """E[M | p, q, gamma, m_x, x]: a customer's expected average transaction value.

    A weighted mean of the population mean and her own observed mean, the weight on her
    own mean growing with x (FHL 2005 eq. 5). Customers without a repeat purchase get the
    population mean. Needs q > 1, otherwise the population mean is infinite.

    Example::

        conditional_expected_average_value(gg, [2], [22.35])   # about 20 on CDNOW
    """
    p, q, gamma = params.p, params.q, params.gamma
    if q <= 1.0:
        raise ValidationError("q", round(q, 4), "q > 1 for a finite expected spend")
    x = np.asarray(frequency, dtype=float)
    m = np.where(x > 0, np.asarray(monetary, dtype=float), 0.0)
    return (gamma + m * x) * p / (p * x + q - 1.0)
