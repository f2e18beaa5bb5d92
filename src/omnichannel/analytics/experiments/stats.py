"""The tests an experiment's reading uses, on plain numbers: no warehouse, no opstore.

Where scipy or statsmodels has the test it is called (the numbers are theirs, and the
tests in ``tests/analytics/test_experiment_stats.py`` hold us to it):

- conversion: ``statsmodels.stats.proportion.proportions_ztest`` (pooled two-proportion
  z-test) and ``confint_proportions_2indep`` (Wald interval of the difference, log
  interval of the ratio, so the relative lift's interval is never symmetric by accident);
- revenue (any per-person number): ``scipy.stats.ttest_ind(equal_var=False)`` (Welch),
  its ``confidence_interval`` for the difference; the relative interval by the delta method;
- sample ratio mismatch: ``scipy.stats.chisquare`` against the variants' weights;
- sample size and MDE: ``statsmodels.stats.power`` (``NormalIndPower`` on Cohen's h for
  proportions, ``TTestIndPower`` on Cohen's d for means).

CUPED is a few lines (a regression coefficient and a subtraction); neither library has it.
The always-valid reading is in ``sequential.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from omnichannel.errors import ValidationError

ALPHA = 0.05
# SRM is checked on every reading, so its threshold is strict: a real mismatch at any
# useful size gives p far below it, and a healthy experiment rarely trips it by chance.
SRM_ALPHA = 0.001


def check_alpha(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValidationError("alpha", alpha, "a significance level strictly between 0 and 1")
    return float(alpha)


def two_proportions(
    converted_control: int,
    n_control: int,
    converted_treatment: int,
    n_treatment: int,
    *,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """Treatment against control: rates, the difference with its CI, the relative lift
    with its CI, the pooled z-test's z and two-sided p."""
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    check_alpha(alpha)
    for field, count, n in (
        ("converted_control", converted_control, n_control),
        ("converted_treatment", converted_treatment, n_treatment),
    ):
        if n <= 0 or not 0 <= count <= n:
            raise ValidationError(field, count, f"a count between 0 and the group's size ({n})")
    rate_c, rate_t = converted_control / n_control, converted_treatment / n_treatment
    answer: dict[str, Any] = {
        "test": "two_proportion_z",
        "control": {"n": n_control, "converted": converted_control, "rate": rate_c},
        "treatment": {"n": n_treatment, "converted": converted_treatment, "rate": rate_t},
        "difference": rate_t - rate_c,
        "ci": None,
        "relative": rate_t / rate_c - 1 if rate_c > 0 else None,
        "relative_ci": None,
        "z": None,
        "p_value": None,
        "significant": None,
        "alpha": alpha,
    }
    pooled = (converted_control + converted_treatment) / (n_control + n_treatment)
    if pooled in (0.0, 1.0):
        return answer  # nobody (or everybody) converted: no variance to test against
    z, p = proportions_ztest([converted_treatment, converted_control], [n_treatment, n_control])
    low, high = confint_proportions_2indep(
        converted_treatment,
        n_treatment,
        converted_control,
        n_control,
        method="wald",
        compare="diff",
        alpha=alpha,
    )
    answer.update(z=float(z), p_value=float(p), significant=bool(p < alpha))
    answer["ci"] = [float(low), float(high)]
    if converted_control > 0 and converted_treatment > 0:
        rlow, rhigh = confint_proportions_2indep(
            converted_treatment,
            n_treatment,
            converted_control,
            n_control,
            method="log",
            compare="ratio",
            alpha=alpha,
        )
        answer["relative_ci"] = [float(rlow) - 1, float(rhigh) - 1]
    return answer


def welch(
    control: Sequence[float] | np.ndarray,
    treatment: Sequence[float] | np.ndarray,
    *,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """Welch's t-test of treatment against control means, the difference's CI (scipy) and
    the relative lift's CI by the delta method."""
    check_alpha(alpha)
    a = np.asarray(control, dtype=np.float64)
    b = np.asarray(treatment, dtype=np.float64)
    answer: dict[str, Any] = {
        "test": "welch_t",
        "control": _summary(a),
        "treatment": _summary(b),
        "difference": float(b.mean() - a.mean()) if a.size and b.size else None,
        "ci": None,
        "relative": None,
        "relative_ci": None,
        "t": None,
        "df": None,
        "p_value": None,
        "significant": None,
        "alpha": alpha,
    }
    if a.size < 2 or b.size < 2 or (a.var() == 0 and b.var() == 0):
        return answer
    result = sps.ttest_ind(b, a, equal_var=False)
    ci = result.confidence_interval(confidence_level=1 - alpha)
    answer.update(
        t=float(result.statistic),
        df=float(result.df),
        p_value=float(result.pvalue),
        significant=bool(result.pvalue < alpha),
        ci=[float(ci.low), float(ci.high)],
    )
    mean_a, mean_b = float(a.mean()), float(b.mean())
    if mean_a != 0:
        # Delta method for mean_b / mean_a - 1, the two means independent.
        var_a, var_b = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        se = math.sqrt(var_b / mean_a**2 + mean_b**2 * var_a / mean_a**4)
        z = float(sps.norm.ppf(1 - alpha / 2))
        relative = mean_b / mean_a - 1
        answer["relative"] = relative
        answer["relative_ci"] = [relative - z * se, relative + z * se]
    return answer


def _summary(x: np.ndarray) -> dict[str, Any]:
    return {
        "n": int(x.size),
        "mean": float(x.mean()) if x.size else None,
        "sd": float(x.std(ddof=1)) if x.size > 1 else None,
        "total": float(x.sum()),
    }


def cuped(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """CUPED (Deng, Xu, Kohavi and Walker 2013): ``y - theta * (x - mean(x))`` with
    ``theta = cov(x, y) / var(x)`` over every unit of every group, so the adjustment is
    the same for all arms and leaves the difference of means unbiased.

    Returns the adjusted metric and ``theta`` with the share of variance removed.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    del groups  # one theta for all: a per-group theta would bias the difference
    var_x = float(x.var(ddof=1)) if x.size > 1 else 0.0
    if var_x == 0:
        return y, {"theta": 0.0, "variance_reduction": 0.0, "covariate": "pre-period"}
    theta = float(np.cov(x, y, ddof=1)[0, 1] / var_x)
    adjusted = y - theta * (x - x.mean())
    var_y = float(y.var(ddof=1))
    reduction = 1 - float(adjusted.var(ddof=1)) / var_y if var_y > 0 else 0.0
    return adjusted, {"theta": theta, "variance_reduction": reduction, "covariate": "pre-period"}


def sample_ratio(
    observed: dict[str, int], weights: dict[str, float], *, alpha: float = SRM_ALPHA
) -> dict[str, Any]:
    """Chi-square goodness of fit of the units per variant against the weights (scipy)."""
    names = list(weights)
    counts = [int(observed.get(n, 0)) for n in names]
    total = sum(counts)
    total_weight = sum(weights.values())
    expected = [total * weights[n] / total_weight for n in names]
    answer: dict[str, Any] = {
        "test": "chi_square",
        "observed": dict(zip(names, counts, strict=True)),
        "expected": dict(zip(names, expected, strict=True)),
        "chi2": None,
        "p_value": None,
        "mismatch": None,
        "alpha": alpha,
    }
    if total == 0 or len(names) < 2:
        return answer
    chi2, p = sps.chisquare(counts, f_exp=expected)
    answer.update(chi2=float(chi2), p_value=float(p), mismatch=bool(p < alpha))
    return answer


def sample_size(
    *,
    baseline: float,
    mde: float | None = None,
    relative: bool = True,
    sd: float | None = None,
    n: int | None = None,
    alpha: float = ALPHA,
    power: float = 0.8,
    ratio: float = 1.0,
) -> dict[str, Any]:
    """People per arm to detect ``mde`` (or, given ``n`` per control arm, the MDE).

    ``baseline`` is the control's conversion rate; with ``sd`` it is the control's mean
    of a continuous metric (revenue per person) and ``sd`` its standard deviation.
    ``mde`` is relative to the baseline unless ``relative=False``; ``ratio`` is treatment
    size over control size.
    """
    from statsmodels.stats.power import NormalIndPower, TTestIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    check_alpha(alpha)
    if not 0 < power < 1:
        raise ValidationError("power", power, "a probability strictly between 0 and 1")
    if not ratio > 0:
        raise ValidationError("ratio", ratio, "a positive treatment/control size ratio")
    if (mde is None) == (n is None):
        raise ValidationError("mde", mde, "exactly one of mde (to get n) or n (to get the MDE)")
    proportions = sd is None
    if proportions and not 0 < baseline < 1:
        raise ValidationError("baseline", baseline, "a conversion rate strictly between 0 and 1")
    if not proportions and not (sd is not None and sd > 0):
        raise ValidationError("sd", sd, "a positive standard deviation")
    if n is not None and n < 2:
        raise ValidationError("n", n, "at least 2 people per arm")
    solver: Any = NormalIndPower() if proportions else TTestIndPower()
    answer: dict[str, Any] = {
        "metric": "conversion" if proportions else "mean",
        "baseline": baseline,
        "alpha": alpha,
        "power": power,
        "ratio": ratio,
    }
    if mde is not None:
        if mde == 0:
            raise ValidationError("mde", mde, "a non-zero effect")
        target = baseline * (1 + mde) if relative else baseline + mde
        if proportions and not 0 < target < 1:
            raise ValidationError("mde", mde, f"an effect keeping the rate in (0, 1): {target}")
        effect = (
            proportion_effectsize(target, baseline)
            if proportions
            else (target - baseline) / float(sd or 1)
        )
        per_control = float(solver.solve_power(abs(effect), alpha=alpha, power=power, ratio=ratio))
        n_control = math.ceil(per_control)
        n_treatment = math.ceil(per_control * ratio)
        answer.update(
            mde=mde,
            relative=relative,
            target=target,
            effect_size=float(effect),
            n_control=n_control,
            n_treatment=n_treatment,
            n_total=n_control + n_treatment,
        )
        return answer
    assert n is not None
    effect = float(solver.solve_power(None, nobs1=n, alpha=alpha, power=power, ratio=ratio))
    if proportions:
        phi = 2 * math.asin(math.sqrt(baseline)) + effect
        target = math.sin(min(phi, math.pi) / 2) ** 2
    else:
        assert sd is not None
        target = baseline + effect * sd
    answer.update(
        n_control=n,
        n_treatment=math.ceil(n * ratio),
        effect_size=effect,
        target=target,
        mde_absolute=target - baseline,
        mde_relative=(target - baseline) / baseline if baseline else None,
    )
    return answer
