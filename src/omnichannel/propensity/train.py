"""Fit, calibrate and score one propensity target on frames of features and labels.

Pure pandas/numpy/scikit-learn: ``service.py`` reads the frames from the warehouse
(``features.py``); tests and evaluations can hand it any frame.

- the model: ``HistGradientBoostingClassifier`` (scikit-learn's LightGBM-style
  histogram gradient boosting, missing values handled natively), wrapped in
  ``CalibratedClassifierCV``: isotonic when the training set has at least
  ``ISOTONIC_MIN_ROWS`` rows, else sigmoid (Platt), which needs fewer;
- the baseline: a logistic regression on recency alone (log of the days since the last
  order or visit), what a marketer's "recent people buy again" rule amounts to;
- the scores: AUC, PR-AUC (average precision), Brier score, log loss, the uncalibrated
  model's Brier beside the calibrated one's, a reliability table (ten bins of predicted
  probability: people, mean predicted, observed rate) and the lift of each decile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from omnichannel.errors import ValidationError

ARTEFACT_FORMAT = 1
# scikit-learn's guide: isotonic calibration overfits below about a thousand samples.
ISOTONIC_MIN_ROWS = 1000
MIN_CLASS_ROWS = 10
CALIBRATION_FOLDS = 3
RELIABILITY_BINS = 10
SEED = 7


@contextmanager
def one_thread() -> Iterator[None]:
    """Fit and predict on one OpenMP thread: the data are small, and the booster's
    threads fighting a busy machine's other work made a 2-second fit take a minute."""
    with threadpool_limits(limits=1):
        yield


def booster(seed: int = SEED) -> HistGradientBoostingClassifier:
    """The gradient boosting both targets use (small trees, shrunk: data are often few)."""
    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=150,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


@dataclass
class PropensityModel:
    """A calibrated model of one target, with what explaining and scoring it needs."""

    target: str
    horizon_days: int
    features: list[str]
    model: Any  # CalibratedClassifierCV
    raw: Any  # the uncalibrated booster fitted on the same rows (for the comparison)
    population: dict[str, float]  # each feature's median in the training rows
    calibration: str
    trained_cutoffs: list[str] = field(default_factory=list)
    rows: int = 0
    positives: int = 0
    format: int = ARTEFACT_FORMAT

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the target for each row."""
        if len(X) == 0:
            return np.zeros(0)
        with one_thread():
            proba: np.ndarray = self.model.predict_proba(X[self.features].to_numpy(float))[:, 1]
        return proba

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        with one_thread():
            proba: np.ndarray = self.raw.predict_proba(X[self.features].to_numpy(float))[:, 1]
        return proba


def check_classes(y: np.ndarray, what: str) -> None:
    """Refuse a training set that cannot be fitted or calibrated (too few of a class)."""
    positives = int(y.sum())
    negatives = int(len(y) - positives)
    if positives < MIN_CLASS_ROWS or negatives < MIN_CLASS_ROWS:
        raise ValidationError(
            "data",
            f"{positives} positive and {negatives} negative examples of {what}",
            f"at least {MIN_CLASS_ROWS} of each: more history (or a shorter horizon) is needed",
        )


def fit_target(
    target: str,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    horizon_days: int,
    cutoffs: list[str] | None = None,
    calibration: str | None = None,
    seed: int = SEED,
) -> PropensityModel:
    """Fit the calibrated booster (and the uncalibrated one, for the comparison)."""
    y = np.asarray(y, dtype=int)
    check_classes(y, target)
    features = list(X.columns)
    data = X.to_numpy(float)
    method = calibration or ("isotonic" if len(y) >= ISOTONIC_MIN_ROWS else "sigmoid")
    if method not in ("isotonic", "sigmoid"):
        raise ValidationError("calibration", method, "isotonic or sigmoid")
    folds = min(CALIBRATION_FOLDS, int(y.sum()), int(len(y) - y.sum()))
    calibrated = CalibratedClassifierCV(booster(seed), method=method, cv=folds)
    with one_thread():
        calibrated.fit(data, y)
        raw = booster(seed).fit(data, y)
    medians = X.median(skipna=True)
    population = {c: float(medians[c]) if pd.notna(medians[c]) else float("nan") for c in features}
    return PropensityModel(
        target=target,
        horizon_days=horizon_days,
        features=features,
        model=calibrated,
        raw=raw,
        population=population,
        calibration=method,
        trained_cutoffs=list(cutoffs or []),
        rows=len(y),
        positives=int(y.sum()),
    )


def recency(X: pd.DataFrame) -> np.ndarray:
    """Log days since the last order or visit (never: a year past the oldest seen)."""
    days = X[["days_since_order", "days_since_visit"]].min(axis=1, skipna=True)
    filler = float(np.nanmax(days.to_numpy(float))) + 365 if days.notna().any() else 365.0
    return np.log1p(days.fillna(filler).clip(lower=0).to_numpy(float)).reshape(-1, 1)


@dataclass
class RecencyBaseline:
    """Logistic regression on ``recency`` alone."""

    model: LogisticRegression

    @classmethod
    def fit(cls, X: pd.DataFrame, y: np.ndarray) -> RecencyBaseline:
        return cls(LogisticRegression().fit(recency(X), np.asarray(y, dtype=int)))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        proba: np.ndarray = self.model.predict_proba(recency(X))[:, 1]
        return proba


def reliability(y: np.ndarray, p: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict[str, Any]]:
    """Ten equal-width bins of predicted probability: people, mean predicted, observed."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        rows.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "people": n,
                "predicted": round(float(p[mask].mean()), 4) if n else None,
                "observed": round(float(y[mask].mean()), 4) if n else None,
            }
        )
    return rows


def deciles(p: np.ndarray) -> np.ndarray:
    """1-10 per score, 10 = the highest tenth (ties share the lower rank's decile)."""
    if len(p) == 0:
        return np.zeros(0, dtype=int)
    ranks = pd.Series(p).rank(method="first").to_numpy()
    return np.minimum(10, np.ceil(ranks * 10 / len(p))).astype(int)


def lift_by_decile(y: np.ndarray, p: np.ndarray) -> list[dict[str, Any]]:
    """Per decile (10 first): people, observed rate, lift over the overall rate."""
    overall = float(y.mean()) if len(y) else 0.0
    d = deciles(p)
    out = []
    for decile in range(10, 0, -1):
        mask = d == decile
        n = int(mask.sum())
        rate = float(y[mask].mean()) if n else 0.0
        out.append(
            {
                "decile": decile,
                "people": n,
                "rate": round(rate, 4),
                "lift": round(rate / overall, 3) if overall > 0 else None,
            }
        )
    return out


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, PR-AUC, Brier and log loss of predictions ``p`` of outcomes ``y``."""
    y = np.asarray(y, dtype=int)
    two = len(set(y.tolist())) == 2
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "auc": round(float(roc_auc_score(y, p)), 4) if two else float("nan"),
        "pr_auc": round(float(average_precision_score(y, p)), 4) if two else float("nan"),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "log_loss": round(float(log_loss(y, clipped, labels=[0, 1])), 4),
    }


def evaluate(
    model: PropensityModel,
    baseline: RecencyBaseline,
    X: pd.DataFrame,
    y: np.ndarray,
) -> dict[str, Any]:
    """The model's and the baseline's scores on ``X, y``, the reliability table and lift."""
    y = np.asarray(y, dtype=int)
    p = model.predict(X)
    raw = model.predict_raw(X)
    base = baseline.predict(X)
    ours = scores(y, p)
    return {
        **ours,
        "brier_uncalibrated": scores(y, raw)["brier"],
        "auc_uncalibrated": scores(y, raw)["auc"],
        "baseline": {"name": "recency-only logistic regression", **scores(y, base)},
        "people": len(y),
        "positives": int(y.sum()),
        "base_rate": round(float(y.mean()), 4) if len(y) else 0.0,
        "calibration": model.calibration,
        "reliability": reliability(y, p),
        "reliability_baseline": reliability(y, base),
        "lift": lift_by_decile(y, p),
    }
