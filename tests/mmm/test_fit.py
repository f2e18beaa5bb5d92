"""The fast fit on simulated data with a known answer, and the errors bad data gets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnichannel.errors import ValidationError
from omnichannel.mmm.data import from_frame
from omnichannel.mmm.fast import SHAPE_RANGE, Problem
from omnichannel.mmm.fit import fit
from omnichannel.mmm.result import MMMFit
from omnichannel.mmm.simulate import Simulation, simulate
from tests.cli.run import omni_in_process

CHANNELS = ["search", "social", "display"]


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(days=730, channels=3, seed=1)


@pytest.fixture(scope="module")
def fitted(sim: Simulation) -> MMMFit:
    return fit(sim.data, holdout_days=56, bootstrap=8)


def test_two_years_recover_each_channels_decay_roi_and_share(
    sim: Simulation, fitted: MMMFit
) -> None:
    rows = fitted.report()["channels"]
    assert [r["channel"] for r in rows] == CHANNELS
    for c, row in enumerate(rows):
        assert row["decay"]["value"] == pytest.approx(sim.truth["decay"][c], abs=0.12)
        assert row["roi"]["value"] == pytest.approx(sim.truth["roi"][c], rel=0.15)
        assert row["share"]["value"] == pytest.approx(sim.truth["share"][c], abs=0.06)
        assert row["spend"] == pytest.approx(sim.truth["spend"][c], rel=1e-6)
        low, high = row["roi"]["interval"]
        assert low <= high and low > 0
        # Saturating curves: the next unit returns less than the average one did.
        assert row["marginal_roi"]["value"] < row["roi"]["value"] * 1.05


def test_the_held_out_tail_is_predicted_about_as_well_as_the_fit(fitted: MMMFit) -> None:
    quality = fitted.report()["fit"]
    assert quality["holdout"]["periods"] == 56
    assert quality["holdout"]["first"] == str(fitted.dates[-56])
    # Noise is 5% of sales: a sound fit is near that out of sample too.
    assert quality["holdout"]["mape"] < 0.08
    assert quality["in_sample"]["mape"] < 0.06


def test_the_response_model_carries_point_curves_and_one_set_per_bootstrap_refit(
    sim: Simulation, fitted: MMMFit
) -> None:
    model = fitted.response_model()
    assert model.channels == tuple(CHANNELS) and model.period == "day"
    assert model.target == "sales" and len(model.draws) == 8
    mean_spend = sim.data.spend.mean(axis=1)
    predicted = model.outcome(list(mean_spend))
    # Steady-state effect at average spend is of the order of the average daily effect.
    actual = sum(sim.truth["contribution"]) / sim.data.periods
    assert 0.5 * actual < predicted < 2.0 * actual
    assert model.baseline_per_period == pytest.approx(fitted.baseline.mean())
    curves = fitted.response_curves(points=5)
    assert curves[0]["effect"][0] == 0.0 and curves[0]["effect"] == sorted(curves[0]["effect"])


def _frame(days: int = 120) -> pd.DataFrame:
    return simulate(days=days, channels=2, seed=4).frame


@pytest.mark.parametrize(
    ("change", "field", "value", "accepted"),
    [
        (lambda f: f, "spend_cols", "tv", "a column of the data: date, sales, search, social"),
        (
            lambda f: f.assign(search=f["search"].astype(object).where(f.index != 3, "n/a")),
            "search",
            "n/a",
            "a number on every row (row 5, 2024-01-04)",
        ),
        (
            lambda f: f.assign(social=f["social"].where(f.index != 9, -5.0)),
            "social",
            -5.0,
            "spend >= 0 (row 11, 2024-01-10)",
        ),
        (lambda f: f.head(12), "data", "12 days", "at least 20 days for 2 channels"),
        (lambda f: f.drop(index=[40]), "date", "2024-02-09 -> 2024-02-11", "one row for every day"),
    ],
)
def test_bad_data_is_refused_naming_the_field_the_value_and_what_is_accepted(
    change: object, field: str, value: object, accepted: str
) -> None:
    frame = change(_frame())  # type: ignore[operator]
    spend = ["search", "tv"] if field == "spend_cols" else ["search", "social"]
    with pytest.raises(ValidationError) as refused:
        from_frame(frame, date_col="date", target_col="sales", spend_cols=spend)
    assert refused.value.field == field and refused.value.value == value
    assert accepted in refused.value.accepted


def test_the_cli_fits_a_csv_without_a_home_and_names_a_bad_column(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    _frame().to_csv(path, index=False)
    common = ["mmm", "fit", "--data", str(path), "--date-col", "date", "--target-col", "sales"]
    shown = omni_in_process(
        *common, "--spend-cols", "search,social", "--bootstrap", "2", "--no-store", "--json"
    )
    answer = json.loads(shown.stdout)
    assert [r["channel"] for r in answer["channels"]] == ["search", "social"]
    assert answer["fit"]["holdout"]["periods"] == 12 and "version" not in answer
    assert all(np.isfinite(r["roi"]["value"]) for r in answer["channels"])
    bad = omni_in_process(*common, "--spend-cols", "search,tv", "--no-store", check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "spend_cols='tv' is not accepted" in bad.stderr and "search, social" in bad.stderr


def test_the_gradient_stays_finite_where_a_near_zero_decay_leaves_subnormal_levels() -> None:
    # A decay near 0 leaves levels of 1e-300 and below after each pulse: a / half
    # underflowed to 0 while a > 0 and the gradient came out NaN, which L-BFGS-B then
    # carried into the fit (seen on the small demo home: "array must not contain NaNs").
    spend = np.zeros((1, 60))
    spend[0, ::20] = 5.0
    target = 10 + spend[0] + np.random.default_rng(1).normal(0, 1, 60)
    problem = Problem(spend, target, np.ones((60, 1)), rows=60, period="day", ridge=1e-3)
    shape = (0.78 - SHAPE_RANGE[0]) / (SHAPE_RANGE[1] - SHAPE_RANGE[0])
    for decay in np.logspace(-30, -1, 300):
        for half in (0.0, 0.5, 1.0):
            loss, grad = problem.loss_and_grad(np.array([decay / 0.95, half, shape]))
            assert np.isfinite(loss) and np.isfinite(grad).all(), (decay, half)
