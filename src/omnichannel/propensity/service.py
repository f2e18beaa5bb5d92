"""``platform.propensity``: purchase-in-30-days and churn scores, trained, stored, explained.

Two models of the lifecycle (``platform.models``, ``omni models``): ``propensity-purchase-30d``
(will a person order in the next 30 days?) and ``propensity-churn`` (will a customer, who
ordered before, neither order nor visit in the next 30 days?). Training reads features
at cut-offs spaced 30 days apart (``features.py``) and scores on a time split:

- the evaluation cut-off is 30 days before the end of the active history, so its labels
  are the last 30 days; the model is trained on the three cut-offs before it, each with
  its own 30-day label window, all ending by the evaluation cut-off (no label seen twice,
  no feature read after its cut-off);
- the version stored is then fitted again with the evaluation cut-off among its training
  cut-offs, and scores everyone as of the end of the history.

Scores are written to ``propensity_scores`` and into the ``profiles`` table's columns
(``purchase_30d_propensity``, ``purchase_30d_decile``, ``churn_propensity``,
``churn_decile``, ``propensity_reasons``) when a version is put in use and by ``score()``;
every profile build joins the stored scores again (``profiles/traits/propensity.py``).

Example::

    with Platform.open("omni-home") as platform:
        platform.models.train("propensity-churn")          # first version: in use, scored
        platform.propensity.explain("email:ann@example.com")["targets"]["churn"]["reasons"]
        platform.segments.preview({"trait": {"field": "churn_propensity", "gte": 0.6}})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.propensity.features import Facts, data_end, data_start, features_at, labels_at
from omnichannel.propensity.train import (
    ARTEFACT_FORMAT,
    PropensityModel,
    RecencyBaseline,
    deciles,
    evaluate,
    fit_target,
)

if TYPE_CHECKING:
    from omnichannel.models.registry import ModelKind, TrainedModel
    from omnichannel.platform import Platform
    from omnichannel.warehouse import Warehouse


@dataclass(frozen=True)
class Target:
    name: str  # purchase_30d | churn
    model: str  # the lifecycle's model name
    description: str


TARGETS = {
    "purchase_30d": Target(
        "purchase_30d",
        "propensity-purchase-30d",
        "Probability that a person orders in the next 30 days (calibrated gradient boosting).",
    ),
    "churn": Target(
        "churn",
        "propensity-churn",
        "Probability that a customer neither orders nor visits in the next 30 days.",
    ),
}
BY_MODEL = {t.model: t for t in TARGETS.values()}
HORIZON_DAYS = 30
TRAIN_CUTOFFS = 3
ALGORITHMS = ("hist_gradient_boosting",)
PRIMARY_METRIC = "auc"
# Cut-offs need this much history before them to have anything to read.
MIN_HISTORY_DAYS = 30


def target_of(name: str) -> Target:
    if name in TARGETS:
        return TARGETS[name]
    if name in BY_MODEL:
        return BY_MODEL[name]
    raise ValidationError("target", name, "one of " + ", ".join(TARGETS))


def dataset(
    facts: Facts, target: str, cutoff: datetime, horizon: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features before ``cutoff`` and the target's label in the ``horizon`` days after."""
    X = features_at(facts, cutoff)
    labels = labels_at(facts, cutoff, horizon).reindex(X.index)
    if target == "churn":
        X = X[X["orders"] > 0]
        active = labels["active"].reindex(X.index).fillna(0).to_numpy()
        return X, (active == 0).astype(int)
    return X, labels["bought"].fillna(0).to_numpy().astype(int)


def stacked(
    facts: Facts, target: str, cutoffs: list[datetime], horizon: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """The datasets of several cut-offs, one under the other (a person once per cut-off)."""
    parts = [dataset(facts, target, c, horizon) for c in cutoffs]
    X = pd.concat([p[0] for p in parts], ignore_index=True)
    y = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=int)
    return X, y


def cutoffs_for(facts: Facts, horizon: int, end: datetime | None = None) -> dict[str, Any]:
    """The evaluation cut-off, the training cut-offs before it, and those of the final fit."""
    end = end or data_end(facts, horizon_days=horizon)
    start = data_start(facts)
    evaluation = end - timedelta(days=horizon)
    earliest = start + timedelta(days=MIN_HISTORY_DAYS)
    train = [evaluation - timedelta(days=horizon * k) for k in range(1, TRAIN_CUTOFFS + 1)]
    train = [c for c in train if c >= earliest]
    if not train:
        raise ValidationError(
            "history",
            f"{start:%Y-%m-%d} to {end:%Y-%m-%d}",
            f"at least {MIN_HISTORY_DAYS + 2 * horizon} days of orders (a training cut-off "
            f"with {MIN_HISTORY_DAYS} days before it, then two {horizon}-day label windows)",
        )
    final = [evaluation - timedelta(days=horizon * k) for k in range(TRAIN_CUTOFFS)]
    return {
        "end": end,
        "evaluation": evaluation,
        "train": train,
        "final": [c for c in final if c >= earliest],
    }


def train_target(facts: Facts, target: str, *, horizon: int = HORIZON_DAYS) -> dict[str, Any]:
    """Fit on the training cut-offs, score on the evaluation one, refit for use."""
    cuts = cutoffs_for(facts, horizon)
    X_train, y_train = stacked(facts, target, cuts["train"], horizon)
    X_eval, y_eval = dataset(facts, target, cuts["evaluation"], horizon)
    iso = [c.isoformat() for c in cuts["train"]]
    model = fit_target(target, X_train, y_train, horizon_days=horizon, cutoffs=iso)
    baseline = RecencyBaseline.fit(X_train, y_train)
    metrics = evaluate(model, baseline, X_eval, y_eval)
    X_all, y_all = stacked(facts, target, cuts["final"], horizon)
    final = fit_target(
        target,
        X_all,
        y_all,
        horizon_days=horizon,
        cutoffs=[c.isoformat() for c in cuts["final"]],
    )
    return {"model": model, "final": final, "metrics": metrics, "cutoffs": cuts}


def _scored_frame(
    model: PropensityModel, X: pd.DataFrame, version: int, as_of: datetime
) -> pd.DataFrame:
    from omnichannel.propensity.explain import reasons

    p = model.predict(X)
    why = reasons(model, X)
    now = datetime.now(UTC).replace(tzinfo=None)
    return pd.DataFrame(
        {
            "profile_id": X.index.astype(str),
            "target": model.target,
            "propensity": np.round(p, 4),
            "decile": deciles(p).astype("int32"),
            "reasons": [json.dumps(r) for r in why],
            "model_version": version,
            "as_of": as_of,
            "scored_at": now,
        }
    )


class PropensityCapability:
    """Train (through ``platform.models``), score everyone, explain one person."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def _facts(self, wh: Warehouse, tmp: Any) -> Facts:
        from omnichannel.propensity.features import read_facts

        return read_facts(wh, self._platform.config.rules, tmp)

    def train_model(self, target: str, *, horizon_days: int | None = None) -> TrainedModel:
        """What the lifecycle stores for ``target``: the refitted model and its scores."""
        from omnichannel.models.registry import TrainedModel
        from omnichannel.profiles.traits.base import scratch

        chosen = target_of(target)
        horizon = int(horizon_days or HORIZON_DAYS)
        if not 7 <= horizon <= 180:
            raise ValidationError("horizon_days", horizon, "a whole number of days, 7-180")
        with self._platform.warehouse.reader() as wh:
            tmp = scratch(wh)
            try:
                result = train_target(self._facts(wh, tmp), chosen.name, horizon=horizon)
            except LookupError as exc:
                raise ValidationError("data", str(exc), "orders attributed to profiles") from exc
            finally:
                tmp.close()
        cuts = result["cutoffs"]
        final: PropensityModel = result["final"]
        metrics = dict(result["metrics"])
        metrics["cutoff"] = cuts["evaluation"].isoformat()
        return TrainedModel(
            algorithm=ALGORITHMS[0],
            artefact=final,
            params={
                "target": chosen.name,
                "horizon_days": horizon,
                "calibration": final.calibration,
                "features": final.features,
                "training_rows": final.rows,
            },
            metrics=metrics,
            split={
                "cutoff": cuts["evaluation"].isoformat(),
                "train_cutoffs": [c.isoformat() for c in cuts["train"]],
                "final_cutoffs": [c.isoformat() for c in cuts["final"]],
                "end": cuts["end"].isoformat(),
                "holdout_days": horizon,
                "people": metrics["people"],
            },
        )

    # --- the models in use -----------------------------------------------------------

    def model(self, target: str) -> tuple[int, PropensityModel]:
        """``(version, model)`` in use for ``target``; NotFoundError when none is trained."""
        chosen = target_of(target)
        loaded = self._platform.models.load(chosen.model)
        if loaded is None:
            raise NotFoundError(
                f"no {chosen.model} model is in use: `omni models train {chosen.model}` "
                "trains one (it is put in use when it is the first)"
            )
        version, artefact = loaded
        check_artefact(artefact, chosen.model, version)
        return version, artefact

    def _in_use(self, targets: list[str] | None) -> dict[str, tuple[int, PropensityModel]]:
        names = [target_of(t).name for t in targets] if targets else list(TARGETS)
        out = {}
        for name in names:
            try:
                out[name] = self.model(name)
            except NotFoundError:
                if targets:
                    raise
        if not out:
            raise NotFoundError(
                "no propensity model is in use: `omni models train propensity-purchase-30d` "
                "or `omni models train propensity-churn` trains one"
            )
        return out

    # --- scoring ---------------------------------------------------------------------

    def score(self, targets: list[str] | None = None) -> dict[str, Any]:
        """Score every profile with the model in use of each target (all in use when
        None), store the scores and refresh the profiles' propensity columns."""
        from omnichannel.profiles.traits.base import scratch

        models = self._in_use(targets)
        platform = self._platform
        frames = []
        with platform.warehouse.reader() as wh:
            tmp = scratch(wh)
            try:
                facts = self._facts(wh, tmp)
                horizon = max(m.horizon_days for _, m in models.values())
                as_of = data_end(facts, horizon_days=horizon)
                X = features_at(facts, as_of)
                for name, (version, model) in models.items():
                    people = X[X["orders"] > 0] if name == "churn" else X
                    frames.append(_scored_frame(model, people, version, as_of))
            finally:
                tmp.close()
            kept = self._kept_rows(wh, list(models))
            rows = pd.concat([kept, *frames], ignore_index=True)
            self._write(wh, rows)
        summary = self.summary()
        return {"scored": {n: int((rows["target"] == n).sum()) for n in models}, **summary}

    def _kept_rows(self, wh: Warehouse, replaced: list[str]) -> pd.DataFrame:
        from omnichannel.warehouse.tables import PROPENSITY_SCORES

        s = wh.table("propensity_scores")
        frame: pd.DataFrame = s.filter(~s.target.isin(replaced)).to_pandas()
        return frame[list(PROPENSITY_SCORES.schema.names)]

    def _write(self, wh: Warehouse, rows: pd.DataFrame) -> None:
        from omnichannel.profiles.traits.propensity import COLUMNS, propensity_columns
        from omnichannel.warehouse.replace import Replacement
        from omnichannel.warehouse.tables import PROFILES, PROPENSITY_SCORES

        schema = PROPENSITY_SCORES.schema
        scores = ibis.memtable(rows, schema=schema)
        replacements = [
            Replacement(
                "propensity_scores",
                scores,
                schema,
                order_by=("profile_id", "target"),
                index=("profile_id",),
            )
        ]
        if "profiles" in wh.con.list_tables():
            p = wh.table("profiles")
            columns = propensity_columns(scores)
            joined = p.drop(*[c for c in COLUMNS if c in p.columns]).left_join(
                columns, "profile_id"
            )
            joined = joined.select(~ibis.selectors.endswith("_right"))
            replacements.append(
                Replacement(
                    "profiles",
                    joined,
                    PROFILES.schema,
                    order_by=("profile_id",),
                    index=("profile_id",),
                    index_engines=("duckdb", "postgres"),
                )
            )
        wh.replace_all(replacements)

    # --- reading ---------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Per target: people scored, mean score, the model version, people per decile."""
        with self._platform.warehouse.reader() as wh:
            s = wh.table("propensity_scores")
            per = (
                s.group_by(["target", "model_version", "decile"])
                .agg(
                    people=s.count(),
                    mean=s.propensity.mean(),
                    low=s.propensity.min(),
                    high=s.propensity.max(),
                    as_of=s.as_of.max(),
                    scored_at=s.scored_at.max(),
                )
                .order_by(["target", ibis.desc("decile")])
                .to_pyarrow()
                .to_pylist()
            )
        targets: dict[str, Any] = {}
        for row in per:
            t = targets.setdefault(
                row["target"],
                {
                    "model": target_of(row["target"]).model,
                    "version": row["model_version"],
                    "people": 0,
                    "as_of": row["as_of"],
                    "scored_at": row["scored_at"],
                    "deciles": [],
                },
            )
            t["people"] += int(row["people"])
            t["deciles"].append(
                {
                    "decile": int(row["decile"]),
                    "people": int(row["people"]),
                    "mean": round(float(row["mean"]), 4),
                    "low": round(float(row["low"]), 4),
                    "high": round(float(row["high"]), 4),
                }
            )
        for t in targets.values():
            total = sum(d["people"] * d["mean"] for d in t["deciles"])
            t["mean"] = round(total / t["people"], 4) if t["people"] else None
        return {"targets": targets}

    def explain(self, identifier: str) -> dict[str, Any]:
        """The person's stored score, decile and reasons for each target (``type:value``)."""
        platform = self._platform
        with platform.warehouse.reader() as wh:
            ref = platform.lookup.find(wh, identifier)
            s = wh.table("propensity_scores")
            rows = s.filter(s.profile_id == ref.profile_id).to_pyarrow().to_pylist()
        if not rows:
            self._in_use(None)  # names what to train when nothing is in use
        targets = {}
        for row in rows:
            targets[row["target"]] = {
                "model": target_of(row["target"]).model,
                "version": row["model_version"],
                "propensity": row["propensity"],
                "decile": row["decile"],
                "reasons": json.loads(row["reasons"] or "[]"),
                "as_of": row["as_of"],
                "scored_at": row["scored_at"],
            }
        return {"identifier": identifier, "profile_id": ref.profile_id, "targets": targets}

    def evaluation(self, target: str, version: int | None = None) -> dict[str, Any]:
        """A version's stored scores on its time split (the one in use by default)."""
        chosen = target_of(target)
        shown = self._platform.models.show(chosen.model, version)
        return {
            "model": chosen.model,
            "version": shown["version"],
            "status": shown["status"],
            "metrics": shown["metrics"],
            "split": shown["evaluations"][-1]["split"] if shown["evaluations"] else {},
        }


def check_artefact(artefact: Any, model: str = "propensity", version: int | None = None) -> None:
    """Refuse an artefact stored in another format (ConflictError naming what to do)."""
    stored = getattr(artefact, "format", None)
    if not isinstance(artefact, PropensityModel) or stored != ARTEFACT_FORMAT:
        which = f"{model} v{version}" if version is not None else model
        raise ConflictError(
            f"{which} was stored in artefact format {stored} and this version of "
            f"Omnichannel reads format {ARTEFACT_FORMAT}: train a new version "
            f"(omni models train {model} --promote)"
        )


def _kind(target: Target) -> ModelKind:
    from omnichannel.models.registry import ModelKind

    def train(platform: Platform, algorithm: str | None, options: Mapping[str, Any]) -> Any:
        if algorithm not in (None, *ALGORITHMS):
            raise ValidationError("algorithm", algorithm, "one of " + ", ".join(ALGORITHMS))
        days = options.get("holdout_days")
        return platform.propensity.train_model(
            target.name, horizon_days=int(days) if days not in (None, "") else None
        )

    def promoted(platform: Platform) -> None:
        platform.propensity.score([target.name])

    return ModelKind(
        name=target.model,
        description=target.description,
        algorithms=ALGORITHMS,
        train=train,
        primary_metric=PRIMARY_METRIC,
        on_promote=promoted,
        check_artefact=lambda a: check_artefact(a, target.model),
    )


def purchase_kind() -> ModelKind:
    return _kind(TARGETS["purchase_30d"])


def churn_kind() -> ModelKind:
    return _kind(TARGETS["churn"])
