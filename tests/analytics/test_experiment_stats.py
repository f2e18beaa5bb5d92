"""Experiments' numbers agree with scipy and statsmodels; assignment is sticky and fair."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

from omnichannel.analytics.experiments.assign import variant_for
from omnichannel.analytics.experiments.definition import parse_experiment
from omnichannel.analytics.experiments.sequential import msprt
from omnichannel.analytics.experiments.stats import (
    cuped,
    sample_ratio,
    sample_size,
    two_proportions,
    welch,
)
from omnichannel.errors import ValidationError


def test_two_proportion_z_test_matches_statsmodels() -> None:
    result = two_proportions(120, 1000, 150, 1000)
    z, p = proportions_ztest([150, 120], [1000, 1000])
    assert result["z"] == pytest.approx(z) and result["p_value"] == pytest.approx(p)
    assert result["difference"] == pytest.approx(0.03)
    low, high = result["ci"]
    se = np.sqrt(0.12 * 0.88 / 1000 + 0.15 * 0.85 / 1000)
    assert (low, high) == pytest.approx((0.03 - 1.959964 * se, 0.03 + 1.959964 * se), rel=1e-5)
    assert result["relative"] == pytest.approx(0.25)
    assert result["relative_ci"][0] < 0.25 < result["relative_ci"][1]


def test_welch_matches_scipy_and_cuped_reduces_variance() -> None:
    rng = np.random.default_rng(3)
    pre = rng.gamma(2.0, 20.0, 4000)
    post = 0.8 * pre + rng.normal(0, 10, 4000)
    groups = np.arange(4000) % 2
    post[groups == 1] += 2.0
    a, b = post[groups == 0], post[groups == 1]
    result = welch(a, b)
    expected = sps.ttest_ind(b, a, equal_var=False)
    ci = expected.confidence_interval()
    assert result["t"] == pytest.approx(expected.statistic)
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["ci"] == pytest.approx([ci.low, ci.high])
    adjusted, info = cuped(post, pre, groups)
    assert info["variance_reduction"] > 0.8
    narrower = welch(adjusted[groups == 0], adjusted[groups == 1])
    assert narrower["ci"][0] < 2.0 < narrower["ci"][1]  # the true lift, now measured closer
    assert narrower["ci"][1] - narrower["ci"][0] < (result["ci"][1] - result["ci"][0]) / 2


def test_srm_flags_a_55_45_split_of_a_50_50_experiment_and_matches_scipy() -> None:
    result = sample_ratio({"a": 5500, "b": 4500}, {"a": 1, "b": 1})
    assert result["mismatch"] is True
    assert result["p_value"] == pytest.approx(sps.chisquare([5500, 4500]).pvalue)
    assert sample_ratio({"a": 5030, "b": 4970}, {"a": 1, "b": 1})["mismatch"] is False


def test_sample_size_and_mde_match_statsmodels_power() -> None:
    result = sample_size(baseline=0.10, mde=0.10)
    effect = proportion_effectsize(0.11, 0.10)
    n = NormalIndPower().solve_power(abs(effect), alpha=0.05, power=0.8, ratio=1.0)
    assert result["n_control"] == int(np.ceil(n))
    back = sample_size(baseline=0.10, n=result["n_control"])
    assert back["mde_relative"] == pytest.approx(0.10, abs=0.002)
    with pytest.raises(ValidationError, match="baseline"):
        sample_size(baseline=1.5, mde=0.1)


def test_msprt_p_value_never_rises_and_is_one_with_no_difference() -> None:
    n = np.array([100.0, 200, 300])
    conv = np.array([10.0, 20, 30])
    out = msprt(n, conv, conv, n, conv, conv, alpha=0.05)
    assert list(out["p_value"]) == [1.0, 1.0, 1.0]
    out = msprt(n, conv, conv, n, conv * 2, conv * 2, alpha=0.05)
    assert np.all(np.diff(out["p_value"]) <= 0) and out["p_value"][-1] < 0.05


EXPERIMENT = {"name": "button", "variants": [{"name": "a", "weight": 3}, {"name": "b"}]}


def test_assignment_respects_weights_on_10k_ids_and_is_the_same_in_another_process() -> None:
    definition = parse_experiment(EXPERIMENT)
    drawn = [variant_for(definition, f"person-{i}") for i in range(10_000)]
    assert drawn.count("a") / 10_000 == pytest.approx(0.75, abs=0.015)
    script = (
        "from omnichannel.analytics.experiments.assign import variant_for;"
        "from omnichannel.analytics.experiments.definition import parse_experiment;"
        f"e = parse_experiment({EXPERIMENT!r});"
        "print(''.join(variant_for(e, f'person-{i}') for i in range(200)))"
    )
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert other.stdout.strip() == "".join(drawn[:200])


def test_bad_documents_name_the_field() -> None:
    with pytest.raises(ValidationError, match="variants"):
        parse_experiment({"name": "x", "variants": [{"name": "a"}]})
    with pytest.raises(ValidationError, match="weight"):
        parse_experiment({"name": "x", "variants": [{"name": "a", "weight": -1}, {"name": "b"}]})
    with pytest.raises(ValidationError, match=r"metric\.kind"):
        parse_experiment({**EXPERIMENT, "metric": {"kind": "clicks"}})
