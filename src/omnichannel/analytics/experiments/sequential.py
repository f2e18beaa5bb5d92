"""Always-valid p-values and confidence sequences: a reading that may be looked at daily.

The mixture sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis and
Walsh, "Peeking at A/B Tests: Why it matters, and what to do about it" (KDD 2017) and
Johari, Pekelis and Walsh, "Always Valid Inference" (arXiv:1512.04922): for the
difference of two means (a conversion rate is the mean of 0/1), with ``theta`` the
observed difference, ``V`` its variance (``s_t^2/n_t + s_c^2/n_c``) and a normal mixture
of variance ``tau^2`` over the true difference, the likelihood ratio against "no
difference" is

    Lambda = sqrt(V / (V + tau^2)) * exp(theta^2 tau^2 / (2 V (V + tau^2)))

The always-valid p-value is the running minimum of ``1 / Lambda`` over every look, and
the confidence sequence (the differences not rejected) is

    theta +/- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)))

intersected over the looks. Under no difference, the chance that the p-value ever falls
under ``alpha``, however often it is read, is at most ``alpha`` (Ville's inequality);
``evaluations/experiments_peeking.py`` checks it against a fixed-horizon z-test read daily.

``tau`` is the mixture's spread: any value keeps the guarantee, and the test has most
power for true effects near it. The default is a tenth of the pooled standard
deviation (a standardised effect of 0.1). Neither scipy nor statsmodels has the mSPRT,
so it is these few lines, vectorised so the evaluation runs thousands of experiments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_TAU_SD = 0.1


def msprt(
    n_c: np.ndarray,
    sum_c: np.ndarray,
    sumsq_c: np.ndarray,
    n_t: np.ndarray,
    sum_t: np.ndarray,
    sumsq_t: np.ndarray,
    *,
    alpha: float,
    tau: float | None = None,
) -> dict[str, np.ndarray]:
    """The mSPRT at each look from cumulative counts, sums and sums of squares.

    The arrays' last axis is the looks, in order; every look is reduced over the looks
    before it (running minimum p, intersected interval). Looks where an arm has fewer
    than two units or no variance give p = 1 and an unbounded interval.
    """
    n_c, n_t = np.asarray(n_c, np.float64), np.asarray(n_t, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_c, mean_t = sum_c / n_c, sum_t / n_t
        var_c = (sumsq_c - n_c * mean_c**2) / (n_c - 1)
        var_t = (sumsq_t - n_t * mean_t**2) / (n_t - 1)
        v = np.maximum(var_c, 0) / n_c + np.maximum(var_t, 0) / n_t
        theta = mean_t - mean_c
        if tau is None:
            pooled = (np.maximum(var_c, 0) + np.maximum(var_t, 0)) / 2
            tau2 = (DEFAULT_TAU_SD**2) * pooled[..., -1:]  # fixed by the latest look
        else:
            tau2 = np.full_like(v, float(tau) ** 2)
        usable = (n_c >= 2) & (n_t >= 2) & (v > 0) & (tau2 > 0)
        v = np.where(usable, v, 1.0)
        tau2 = np.where(usable, tau2, 1.0)
        log_lambda = 0.5 * np.log(v / (v + tau2)) + theta**2 * tau2 / (2 * v * (v + tau2))
        p = np.where(usable, np.minimum(1.0, np.exp(-log_lambda)), 1.0)
        half = np.sqrt(v * (v + tau2) / tau2 * (2 * np.log(1 / alpha) + np.log((v + tau2) / v)))
        low = np.where(usable, theta - half, -np.inf)
        high = np.where(usable, theta + half, np.inf)
    return {
        "p_value": np.minimum.accumulate(p, axis=-1),
        "low": np.maximum.accumulate(low, axis=-1),
        "high": np.minimum.accumulate(high, axis=-1),
        "difference": np.where(usable, theta, np.nan),
    }


def reading(
    days: list[str],
    control: list[tuple[int, float, float]],
    treatment: list[tuple[int, float, float]],
    *,
    alpha: float,
    tau: float | None = None,
) -> dict[str, Any]:
    """The always-valid reading of one comparison, one look per day.

    ``control`` and ``treatment`` hold, per day, the cumulative ``(n, sum, sum of
    squares)`` of the metric of the units exposed up to that day.
    """
    if not days:
        return {"method": "msprt", "alpha": alpha, "looks": [], "p_value": None, "ci": None}
    c, t = np.asarray(control, np.float64), np.asarray(treatment, np.float64)
    out = msprt(c[:, 0], c[:, 1], c[:, 2], t[:, 0], t[:, 1], t[:, 2], alpha=alpha, tau=tau)
    looks = [
        {
            "day": day,
            "n_control": int(c[i, 0]),
            "n_treatment": int(t[i, 0]),
            "difference": _number(out["difference"][i]),
            "p_value": float(out["p_value"][i]),
            "ci": [_number(out["low"][i]), _number(out["high"][i])],
        }
        for i, day in enumerate(days)
    ]
    last_p = float(out["p_value"][-1])
    return {
        "method": "msprt",
        "reference": "Johari, Pekelis and Walsh, Always Valid Inference (2017)",
        "alpha": alpha,
        "tau": tau,
        "p_value": last_p,
        "ci": looks[-1]["ci"],
        "significant": last_p < alpha,
        "looks": looks,
    }


def _number(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
