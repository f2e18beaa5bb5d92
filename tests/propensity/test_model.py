"""The propensity model on synthetic data with a known answer: calibration helps, the
explanation names the feature that drives the label, and reasons read as words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss

from omnichannel.errors import ValidationError
from omnichannel.propensity.explain import phrase, reasons
from omnichannel.propensity.features import FEATURES
from omnichannel.propensity.train import deciles, fit_target, reliability

pytestmark = pytest.mark.slow(seconds=6)  # two fits of the calibrated booster


def people(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Noise in every feature but carts: P(buy) = logistic(-2 + 1.2 x carts in 30 days)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=list(FEATURES))
    X["carts_30d"] = rng.poisson(1.0, n).astype(float)
    truth = 1 / (1 + np.exp(-(-2.0 + 1.2 * X["carts_30d"].to_numpy())))
    return X, (rng.random(n) < truth).astype(int), truth


@pytest.fixture(scope="module")
def fitted() -> tuple[object, pd.DataFrame, np.ndarray, np.ndarray]:
    X, y, _ = people(600, 1)
    model = fit_target("purchase_30d", X, y, horizon_days=30)
    X_test, y_test, truth = people(2000, 2)
    return model, X_test, y_test, truth


def test_the_calibrated_score_is_better_calibrated_than_the_booster_alone(fitted) -> None:
    model, X, y, truth = fitted
    calibrated = brier_score_loss(y, model.predict(X))
    raw = brier_score_loss(y, model.predict_raw(X))
    assert model.calibration == "sigmoid"  # 600 rows: too few for isotonic
    assert calibrated < raw
    assert brier_score_loss(y, truth) < calibrated  # the truth is still the best possible
    table = reliability(y, model.predict(X))
    assert sum(row["people"] for row in table) == len(y) and len(table) == 10


def test_the_explanation_names_the_feature_that_drives_the_label(fitted) -> None:
    model, X, _, _ = fitted
    keen = X[X["carts_30d"] >= 4].head(10)
    idle = X[X["carts_30d"] == 0].head(10)
    for row in reasons(model, keen):
        top = row[0]
        assert top["feature"] == "carts_30d" and top["direction"] == "raises"
        assert top["text"].startswith("added to cart ") and top["text"].endswith(" in 30 days")
    # No cart (the population has one): the driver pulls the score down, among the top three.
    named = [r for row in reasons(model, idle) for r in row if r["feature"] == "carts_30d"]
    assert len(named) >= 8
    assert all(r["direction"] == "lowers" and r["text"] == "no cart in 30 days" for r in named)


def test_reasons_read_as_a_marketer_would_say_them() -> None:
    assert phrase("orders_90d", 4) == "bought 4 times in 90 days"
    assert phrase("orders_90d", 1) == "bought once in 90 days"
    assert phrase("days_since_visit", 62.4) == "no visit for 62 days"
    assert phrase("days_since_order", float("nan")) == "never bought"
    assert phrase("store_share", 0.25) == "25% of orders in a store"
    assert phrase("revenue", 12500) == "spent 12,500 in all"


def test_deciles_put_the_highest_tenth_in_decile_10() -> None:
    d = deciles(np.linspace(0, 1, 100))
    assert list(d[:10]) == [1] * 10 and list(d[-10:]) == [10] * 10


def test_too_few_buyers_is_refused_with_the_counts() -> None:
    X, _, _ = people(100, 3)
    y = np.zeros(100, dtype=int)
    y[:3] = 1
    with pytest.raises(ValidationError, match="3 positive and 97 negative") as caught:
        fit_target("churn", X, y, horizon_days=30)
    assert caught.value.field == "data"


def test_the_scores_are_segment_fields_and_the_reasons_are_refused_naming_why() -> None:
    from omnichannel.segments.definition import TRAIT_FIELDS, parse_definition

    assert {"purchase_30d_propensity", "purchase_30d_decile", "churn_propensity"} <= set(
        TRAIT_FIELDS
    )
    parse_definition(
        {"name": "at-risk", "condition": {"trait": {"field": "churn_propensity", "gte": 0.6}}}
    )
    with pytest.raises(ValidationError, match="omni propensity explain"):
        parse_definition(
            {"name": "x", "condition": {"trait": {"field": "propensity_reasons", "contains": "a"}}}
        )
