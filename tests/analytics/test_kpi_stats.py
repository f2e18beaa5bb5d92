"""The noise tests of a KPI comparison agree with scipy on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp

from omnichannel.analytics.kpis import stats


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(30, 1000, 45, 1000), (5, 40, 1, 60)])
def test_two_proportions_is_the_uncorrected_chi_square(x1: int, n1: int, x2: int, n2: int) -> None:
    test = stats.two_proportions(x1, n1, x2, n2)
    chi2, p, _, _ = sp.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
    assert test.p_value == pytest.approx(p)
    assert test.statistic is not None and test.statistic**2 == pytest.approx(chi2)


def test_a_rate_above_one_is_not_tested() -> None:
    assert stats.two_proportions(12, 10, 1, 10).p_value is None


def test_poisson_counts_is_the_conditional_binomial_test() -> None:
    test = stats.poisson_counts(30, 12, t1=7, t2=7)
    assert test.p_value == pytest.approx(sp.binomtest(30, 42, 0.5).pvalue)
    # Twice the time for the second count: the same counts are then no surprise.
    longer = stats.poisson_counts(10, 20, t1=1, t2=2)
    assert longer.p_value == pytest.approx(1.0)
    assert stats.poisson_counts(0, 0).p_value == 1.0


def test_welch_from_sums_equals_scipy_on_the_raw_values() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.gamma(2.0, 50.0, 80), rng.gamma(2.0, 60.0, 60)
    test = stats.welch(a.sum(), (a * a).sum(), len(a), b.sum(), (b * b).sum(), len(b))
    expected = sp.ttest_ind(a, b, equal_var=False)
    assert test.statistic == pytest.approx(expected.statistic)
    assert test.p_value == pytest.approx(expected.pvalue)


def test_money_sums_is_a_normal_test_on_the_compound_poisson_variance() -> None:
    a, b = np.array([100.0, 50.0, 70.0]), np.array([20.0, 30.0])
    test = stats.money_sums(a.sum(), (a * a).sum(), b.sum(), (b * b).sum())
    z = (a.sum() - b.sum()) / np.sqrt((a * a).sum() + (b * b).sum())
    assert test.statistic == pytest.approx(z)
    assert test.p_value == pytest.approx(2 * sp.norm.sf(abs(z)))
    assert test.as_dict()["significant"] is (test.p_value < 0.05)
