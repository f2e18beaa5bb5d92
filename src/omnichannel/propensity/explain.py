"""Why a person's score is what it is: the features that move it most, in words.

The method: a person's contribution of feature *j* is their calibrated score minus the
score they would get with feature *j* replaced by the population's value (the median of
the training rows), every other feature kept. It explains the probability the marketer
sees (after calibration), needs no library beyond the model itself, and reads the same
for any model. Unlike SHAP values, the contributions need not add up to the score's
distance from the average (features that act together are each credited in full); the
ranking of the top three is what is shown. (``shap``'s tree explainer would explain the
booster's log-odds before calibration, not the score shown, and adds a dependency.)

Each reason is ``{feature, value, effect, direction, text}``: ``effect`` in probability
points (+0.12 = this raises the score by 12 points), ``text`` a phrase a marketer reads
("bought 4 times in 90 days", "no visit for 62 days").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from omnichannel.propensity.train import PropensityModel, one_thread

TOP = 3
# Rows of people x features predicted at once (memory stays bounded on big populations).
CHUNK_ROWS = 200_000


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _times(n: float) -> str:
    return "once" if round(n) == 1 else f"{_n(n)} times"


def _counted(value: float, some: str, none: str) -> str:
    """``some`` with the count in it, or ``none`` for zero."""
    return some.format(n=_n(value), times=_times(value)) if value else none


# feature -> (phrase with {n}/{times}, phrase for zero); the recency, share and CLV
# features are phrased by ``phrase`` itself.
COUNTS: dict[str, tuple[str, str]] = {
    "orders": ("bought {times} in all", "never bought"),
    "orders_90d": ("bought {times} in 90 days", "no order in 90 days"),
    "revenue": ("spent {n} in all", "spent nothing yet"),
    "average_order_value": ("orders average {n}", "no order yet"),
    "tenure_days": ("first seen {n} days ago", "first seen today"),
    "channels_used": ("uses {n} channels", "uses no channel yet"),
    "visit_days_30d": ("visited on {n} days in 30 days", "no visit in 30 days"),
    "views_30d": ("viewed {n} products in 30 days", "viewed no product in 30 days"),
    "carts_30d": ("added to cart {times} in 30 days", "no cart in 30 days"),
    "messages_90d": ("received {n} messages in 90 days", "received no message in 90 days"),
    "email_opens_90d": ("opened {n} emails in 90 days", "opened no email in 90 days"),
    "email_clicks_90d": ("clicked {n} email links in 90 days", "clicked no email in 90 days"),
}
SHARES = {
    "store_share": ("{share} of orders in a store", "no order yet"),
    "app_share": ("{share} of visits in the app or mini-program", "no visit yet"),
}


def phrase(feature: str, value: float | None) -> str:
    """The feature's value in words (the feature's name and value when none is known)."""
    v = float("nan") if value is None else float(value)
    missing = math.isnan(v)
    if feature == "days_since_order":
        return "never bought" if missing else f"last bought {round(v)} days ago"
    if feature == "days_since_visit":
        if missing:
            return "never visited"
        return f"no visit for {round(v)} days" if v >= 7 else f"visited {round(v)} days ago"
    if feature == "expected_purchases_30d":
        return "no CLV estimate" if missing else f"CLV model expects {v:.1f} purchases in 30 days"
    if feature in SHARES:
        some, none = SHARES[feature]
        return none if missing else some.format(share=f"{v:.0%}")
    if feature in COUNTS and not missing:
        return _counted(v, *COUNTS[feature])
    if feature in COUNTS:
        return COUNTS[feature][1]
    return f"{feature} = {v:g}"


def contributions(model: PropensityModel, X: pd.DataFrame) -> np.ndarray:
    """``people x features``: score minus the score with that feature at the population's."""
    base = model.predict(X)
    out = np.zeros((len(X), len(model.features)))
    if len(X) == 0:
        return out
    values = X[model.features].to_numpy(float)
    step = max(1, CHUNK_ROWS // max(1, len(model.features)))
    for start in range(0, len(X), step):
        block = values[start : start + step]
        n = len(block)
        stacked = np.repeat(block[np.newaxis, :, :], len(model.features), axis=0)
        for j, feature in enumerate(model.features):
            stacked[j, :, j] = model.population[feature]
        flat = stacked.reshape(-1, len(model.features))
        with one_thread():
            replaced = model.model.predict_proba(flat)[:, 1].reshape(len(model.features), n)
        out[start : start + n] = (base[start : start + n][np.newaxis, :] - replaced).T
    return out


def reasons(
    model: PropensityModel, X: pd.DataFrame, *, top: int = TOP
) -> list[list[dict[str, Any]]]:
    """Per row of ``X``, its ``top`` reasons, strongest effect first (none below 0.5 pt)."""
    effects = contributions(model, X)
    values = X[model.features].to_numpy(float)
    out: list[list[dict[str, Any]]] = []
    for i in range(len(X)):
        order = np.argsort(-np.abs(effects[i]), kind="stable")[:top]
        row = []
        for j in order:
            effect = float(effects[i, j])
            if abs(effect) < 0.005:
                continue
            feature = model.features[j]
            value = float(values[i, j])
            row.append(
                {
                    "feature": feature,
                    "value": None if math.isnan(value) else round(value, 4),
                    "effect": round(effect, 4),
                    "direction": "raises" if effect > 0 else "lowers",
                    "text": phrase(feature, value),
                }
            )
        out.append(row)
    return out
