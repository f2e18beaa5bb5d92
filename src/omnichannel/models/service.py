"""The model lifecycle: train versions, keep their metrics, promote one, retrain on a schedule.

``platform.models`` (and ``omni models``, ``/api/models``) works the same for every
registered model (``registry.py``):

- ``train(model, algorithm)`` fits a new version, scores it on a time split, stores the
  artefact in ``<home>/models/<model>/v<N>.pkl`` and the version with its metrics in the
  operational store (``model_versions``, ``model_evaluations``). The first version of a
  model is put in use at once (there is nothing to compare it with);
- ``promote(model, version)`` puts a version in use, and refuses one whose primary
  metric is worse than the version in use (``ModelWorseError`` names both scores);
- ``retrain(model)`` (the ``models-retrain`` job, daily) trains the algorithm in use on
  the latest data and promotes it unless it scores worse;
- ``list``, ``show`` (with every evaluation of a version), ``load`` (the artefact in use).

Example::

    with Platform.open("omni-home") as platform:
        v = platform.models.train("recommendations", "bpr")
        platform.models.promote("recommendations", v["version"])   # or ModelWorseError
"""

from __future__ import annotations

import builtins
import pickle
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from omnichannel.errors import ConflictError, NotFoundError
from omnichannel.models.registry import ModelKind, model_kind, model_names

if TYPE_CHECKING:
    from omnichannel.opstore.models import ModelVersion
    from omnichannel.platform import Platform


class ModelWorseError(ConflictError):
    """A promotion refused: the candidate scores worse than the version in use."""

    def __init__(self, model: str, metric: str, candidate: dict[str, Any], current: dict[str, Any]):
        self.candidate = candidate
        self.current = current
        if candidate["score"] is None:  # e.g. an MMM fitted without a held-out tail
            super().__init__(
                f"{model} v{candidate['version']} is not promoted: it has no {metric} to "
                f"compare with {current['score']:.4f} of v{current['version']} in use "
                "(train it with the evaluation split that gives one)"
            )
            return
        super().__init__(
            f"{model} v{candidate['version']} is not promoted: its {metric} is "
            f"{candidate['score']:.4f}, worse than {current['score']:.4f} of v{current['version']} "
            f"in use (cut-offs {candidate['cutoff']} and {current['cutoff']})"
        )


def _score(value: Any) -> float | None:
    """A stored metric as a number, None when the version has none (or a NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if number != number else number


def _utcnow() -> datetime:
    return datetime.now(UTC)


def version_dict(row: ModelVersion) -> dict[str, Any]:
    return {
        "model": row.model,
        "version": row.version,
        "algorithm": row.algorithm,
        "status": row.status,
        "primary_metric": row.primary_metric,
        "score": row.metrics.get(row.primary_metric),
        "metrics": dict(row.metrics),
        "params": dict(row.params),
        "artefact": row.artefact,
        "trained_by": row.trained_by,
        "trained_at": row.trained_at.isoformat() if row.trained_at else None,
        "promoted_at": row.promoted_at.isoformat() if row.promoted_at else None,
    }


class ModelsCapability:
    """Versions, metrics and promotion of every registered model (module docstring)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[int, Any]] = {}

    @property
    def home(self) -> Path:
        return self._platform.settings.home

    def kinds(self) -> builtins.list[dict[str, Any]]:
        """The models the lifecycle knows, with their algorithms and deciding metric."""
        out = []
        for name in model_names():
            kind = model_kind(name)
            out.append(
                {
                    "model": name,
                    "description": kind.description,
                    "algorithms": list(kind.algorithms),
                    "primary_metric": kind.primary_metric,
                    "higher_is_better": kind.higher_is_better,
                }
            )
        return out

    # --- training --------------------------------------------------------------------

    def train(
        self,
        model: str,
        algorithm: str | None = None,
        *,
        options: Mapping[str, Any] | None = None,
        by: str = "library",
        promote: bool = False,
    ) -> dict[str, Any]:
        """Fit, score and store a new version; in use at once if it is the first, or if
        ``promote`` and it does not score worse (else the answer says why not)."""
        from omnichannel.opstore.models import ModelEvaluation, ModelVersion

        kind = model_kind(model)
        trained = kind.train(self._platform, algorithm, options or {})
        store = self._platform.opstore
        with store.session() as session:
            latest = session.scalar(
                select(func.max(ModelVersion.version)).where(ModelVersion.model == model)
            )
            version = int(latest or 0) + 1
            relative = Path("models") / model / f"v{version}.pkl"
            path = self.home / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            with partial.open("wb") as out:
                pickle.dump(trained.artefact, out, protocol=pickle.HIGHEST_PROTOCOL)
            partial.replace(path)
            row = ModelVersion(
                model=model,
                version=version,
                algorithm=trained.algorithm,
                status="trained",
                params=trained.params,
                metrics=trained.metrics,
                primary_metric=kind.primary_metric,
                artefact=relative.as_posix(),
                trained_by=by,
                trained_at=_utcnow(),
            )
            session.add(row)
            session.flush()
            session.add(
                ModelEvaluation(
                    model_version_id=row.id,
                    evaluated_at=_utcnow(),
                    metrics=trained.metrics,
                    split=trained.split,
                    reason="trained",
                )
            )
            in_use = session.scalar(
                select(func.count())
                .select_from(ModelVersion)
                .where(ModelVersion.model == model, ModelVersion.status == "active")
            )
        answer = self.show(model, version)
        if not in_use:
            answer = self.promote(model, version)
        elif promote:
            try:
                answer = self.promote(model, version)
            except ModelWorseError as exc:
                answer["promotion_refused"] = str(exc)
        return answer

    def retrain(self, model: str, *, by: str = "job:models-retrain") -> dict[str, Any]:
        """Train the algorithm in use on the latest data; promote it unless it scores worse."""
        active = self.active(model)
        algorithm = active["algorithm"] if active else None
        return self.train(model, algorithm, by=by, promote=True)

    # --- reading ---------------------------------------------------------------------

    def list(self, model: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every version (of ``model``, or of all), newest first."""
        from omnichannel.opstore.models import ModelVersion

        if model is not None:
            model_kind(model)
        with self._platform.opstore.session() as session:
            query = select(ModelVersion).order_by(ModelVersion.model, ModelVersion.version.desc())
            if model is not None:
                query = query.where(ModelVersion.model == model)
            versions = [version_dict(row) for row in session.scalars(query)]
        self._flag_erasures(versions)
        return versions

    def _flag_erasures(self, versions: builtins.list[dict[str, Any]]) -> None:
        """Mark versions trained before the latest erasure: they learned from rows that
        are gone, so they need retraining (``needs_retraining``, ``retrain_reason``)."""
        from omnichannel.opstore.models import PrivacyRequest

        with self._platform.opstore.session() as session:
            last = session.execute(
                select(PrivacyRequest.id, PrivacyRequest.completed_at)
                .where(PrivacyRequest.kind == "erasure", PrivacyRequest.status == "done")
                .order_by(PrivacyRequest.completed_at.desc())
                .limit(1)
            ).first()
        request_id, erased_at = last if last is not None else (None, None)
        for v in versions:
            trained = v["trained_at"]
            stale = bool(
                erased_at is not None
                and trained is not None
                and datetime.fromisoformat(trained) < erased_at
            )
            v["needs_retraining"] = stale
            v["retrain_reason"] = (
                f"trained before erasure request {request_id} ({erased_at.isoformat()})"
                if stale and erased_at is not None
                else None
            )

    def show(self, model: str, version: int | None = None) -> dict[str, Any]:
        """One version (the one in use when ``version`` is None) with every evaluation."""
        from omnichannel.opstore.models import ModelEvaluation

        with self._platform.opstore.session() as session:
            row = self._row(session, model, version)
            answer = version_dict(row)
            evaluations = session.scalars(
                select(ModelEvaluation)
                .where(ModelEvaluation.model_version_id == row.id)
                .order_by(ModelEvaluation.evaluated_at)
            )
            answer["evaluations"] = [
                {
                    "evaluated_at": e.evaluated_at.isoformat(),
                    "reason": e.reason,
                    "metrics": dict(e.metrics),
                    "split": dict(e.split),
                }
                for e in evaluations
            ]
        self._flag_erasures([answer])
        return answer

    def history(self, model: str) -> builtins.list[dict[str, Any]]:
        """Each version's metrics, oldest first (the scores over versions)."""
        return self.list(model)[::-1]

    def active(self, model: str) -> dict[str, Any] | None:
        """The version in use, or None."""
        from omnichannel.opstore.models import ModelVersion

        with self._platform.opstore.session() as session:
            row = session.scalar(
                select(ModelVersion).where(
                    ModelVersion.model == model, ModelVersion.status == "active"
                )
            )
            return version_dict(row) if row is not None else None

    def load(self, model: str) -> tuple[int, Any] | None:
        """``(version, artefact)`` of the version in use, unpickled once per version."""
        active = self.active(model)
        if active is None:
            return None
        version = int(active["version"])
        with self._lock:
            cached = self._loaded.get(model)
            if cached is not None and cached[0] == version:
                return cached
        with (self.home / active["artefact"]).open("rb") as source:
            artefact = pickle.load(source)  # our own file, written by train()
        with self._lock:
            self._loaded[model] = (version, artefact)
        return version, artefact

    # --- promotion -------------------------------------------------------------------

    def promote(self, model: str, version: int) -> dict[str, Any]:
        """Put ``version`` in use; ``ModelWorseError`` if it scores worse than the current."""
        from omnichannel.opstore.models import ModelVersion

        kind = model_kind(model)
        with self._platform.opstore.session() as session:
            row = self._row(session, model, version, detach=False)
            current = session.scalar(
                select(ModelVersion).where(
                    ModelVersion.model == model, ModelVersion.status == "active"
                )
            )
            if current is not None and current.id != row.id:
                self._check_not_worse(kind, row, current)
                current.status = "retired"
            if current is None or current.id != row.id:
                session.execute(
                    update(ModelVersion)
                    .where(ModelVersion.model == model, ModelVersion.status == "active")
                    .values(status="retired")
                )
                row.status = "active"
                row.promoted_at = _utcnow()
        if kind.on_promote is not None:
            kind.on_promote(self._platform)
        return self.show(model, version)

    def _usable(self, kind: ModelKind, row: ModelVersion) -> bool:
        """Whether a stored version's artefact can still be used (file there, format read)."""
        path = self.home / row.artefact
        if not path.exists():
            return False
        if kind.check_artefact is None:
            return True
        try:
            with path.open("rb") as source:
                kind.check_artefact(pickle.load(source))
        except Exception:  # unreadable or refused: it cannot be the one in use
            return False
        return True

    def _check_not_worse(self, kind: ModelKind, row: ModelVersion, current: ModelVersion) -> None:
        if not self._usable(kind, current):
            return  # a version that cannot serve does not hold its place by its score
        metric = kind.primary_metric
        in_use_score = _score(current.metrics.get(metric))
        if in_use_score is None:
            return  # a version without a score does not hold its place by it either
        candidate = _score(row.metrics.get(metric))
        if candidate is not None and kind.better_or_equal(candidate, in_use_score):
            return
        in_use = in_use_score
        raise ModelWorseError(
            row.model,
            metric,
            {"version": row.version, "score": candidate, "cutoff": row.metrics.get("cutoff")},
            {"version": current.version, "score": in_use, "cutoff": current.metrics.get("cutoff")},
        )

    def _row(
        self, session: Any, model: str, version: int | None, *, detach: bool = True
    ) -> ModelVersion:
        from omnichannel.opstore.models import ModelVersion

        model_kind(model)
        query = select(ModelVersion).where(ModelVersion.model == model)
        if version is None:
            query = query.where(ModelVersion.status == "active")
        else:
            query = query.where(ModelVersion.version == version)
        row = session.scalar(query)
        if row is None:
            what = f"version {version}" if version is not None else "a version in use"
            raise NotFoundError(
                f"model {model} has no {what}: `omni models list {model}` lists its versions, "
                f"`omni models train {model}` trains one"
            )
        if detach:
            session.expunge(row)
        return row
