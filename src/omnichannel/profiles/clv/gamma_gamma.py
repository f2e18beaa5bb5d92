"""The Gamma-Gamma spend model of Fader, Hardie & Lee (2005), "RFM and CLV".

A customer's transaction values are Gamma(p, nu) with her own scale nu ~ Gamma(q, gamma),
so her mean spend varies across customers but not over time, independently of how often
she buys. Fitted on the repeat buyers' mean repeat-transaction value ``monetary`` (m_x)
and count ``frequency`` (x); written by hand for the same reasons as ``bgnbd``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from omnichannel.errors import ValidationError
from omnichannel.profiles.clv.mle import ArrayLike, FloatArray, maximise


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


def fit(frequency: ArrayLike, monetary: ArrayLike) -> GammaGammaParams:
    """Maximum-likelihood (p, q, gamma) on the repeat buyers among the given customers.

    Example::

        gg = fit(s.customers["frequency"], s.customers["monetary"])
        round(gg.p, 2), round(gg.q, 2), round(gg.gamma, 2)   # CDNOW: (6.25, 3.74, 15.44)
    """
    x, m = repeat_buyers(frequency, monetary)
    # With p = 1, q = 2 the population mean spend is gamma, so starting gamma at the mean
    # observed spend puts the search at the right scale for any currency unit.
    start = np.array([1.0, 2.0, float(np.mean(m))])
    optimum = maximise(
        lambda v: log_likelihood((v[0], v[1], v[2]), x, m),
        start,
        n=float(x.size),
        model="Gamma-Gamma",
    )
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
