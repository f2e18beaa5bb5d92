"""Whether a KPI's change is beyond noise: the test each kind of KPI gets.

- a rate (``x`` of ``n``): the two-proportion z-test with the pooled proportion (the same
  p-value as a 2x2 chi-square test without continuity correction);
- a count: the exact conditional test of two Poisson rates (given the total, the first
  count is binomial with p = t1 / (t1 + t2), the groups' lengths of time);
- a sum of money (revenue): the compound-Poisson z-test on the two sums (each sum's
  variance is the sum of its squared values), per unit of time;
- a mean (order value, CLV): Welch's t-test from the groups' count, mean and variance;
- ratios of spend (ROAS, ROI, CAC): not tested (spend is chosen, not sampled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

ALPHA = 0.05


@dataclass(frozen=True)
class Test:
    name: str
    statistic: float | None
    p_value: float | None
    note: str | None = None

    def as_dict(self, alpha: float = ALPHA) -> dict[str, object]:
        return {
            "test": self.name,
            "statistic": None if self.statistic is None else round(self.statistic, 6),
            "p_value": None if self.p_value is None else round(self.p_value, 6),
            "significant": None if self.p_value is None else bool(self.p_value < alpha),
            "note": self.note,
        }


def untested(name: str, note: str) -> Test:
    return Test(name, None, None, note)


def two_proportions(x1: float, n1: float, x2: float, n2: float) -> Test:
    """Two-sided pooled z-test of x1/n1 against x2/n2."""
    name = "two-proportion z"
    if n1 <= 0 or n2 <= 0:
        return untested(name, "a group has no denominator")
    if x1 > n1 or x2 > n2 or x1 < 0 or x2 < 0:
        return untested(name, "a numerator exceeds its denominator: not a proportion")
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return Test(name, 0.0, 1.0)
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return Test(name, z, float(2 * stats.norm.sf(abs(z))))


def poisson_counts(k1: float, k2: float, t1: float = 1.0, t2: float = 1.0) -> Test:
    """Exact conditional test that counts k1 (over time t1) and k2 (over t2) share a rate."""
    name = "poisson exact"
    k1, k2 = round(k1), round(k2)
    if k1 + k2 == 0:
        return Test(name, 0.0, 1.0)
    result = stats.binomtest(k1, k1 + k2, t1 / (t1 + t2))
    rate_ratio = (k1 / t1) / (k2 / t2) if k2 > 0 else math.inf
    return Test(name, rate_ratio, float(result.pvalue))


def money_sums(
    s1: float, sq1: float, s2: float, sq2: float, t1: float = 1.0, t2: float = 1.0
) -> Test:
    """Compound-Poisson z-test of two sums of values per unit time (revenue)."""
    name = "compound poisson z"
    variance = sq1 / t1**2 + sq2 / t2**2
    if variance <= 0:
        return untested(name, "no values in either group")
    z = (s1 / t1 - s2 / t2) / math.sqrt(variance)
    return Test(name, z, float(2 * stats.norm.sf(abs(z))))


def welch(s1: float, sq1: float, n1: float, s2: float, sq2: float, n2: float) -> Test:
    """Welch's t-test of two means, from each group's sum, sum of squares and count."""
    name = "welch t"
    if n1 < 2 or n2 < 2:
        return untested(name, "fewer than two values in a group")
    m1, m2 = s1 / n1, s2 / n2
    v1 = max((sq1 - n1 * m1 * m1) / (n1 - 1), 0.0)
    v2 = max((sq2 - n2 * m2 * m2) / (n2 - 1), 0.0)
    if v1 == 0 and v2 == 0:
        return untested(name, "no variation in either group")
    result = stats.ttest_ind_from_stats(
        m1, math.sqrt(v1), n1, m2, math.sqrt(v2), n2, equal_var=False
    )
    return Test(name, float(result.statistic), float(result.pvalue))
