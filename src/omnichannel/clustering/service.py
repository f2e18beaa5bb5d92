"""``platform.clusters``: customer clusters and their personas, assignment, cluster segments.

The version in use comes from the model lifecycle (``platform.models``, model
``clusters``: ``omni models train clusters --algorithm kmeans|gmm``); this module is also
where that model registers how it is trained (``model_kind``). Every face calls this:
``omni clusters ...``, ``/api/clusters/...`` and the ``/models`` page.

Example::

    with Platform.open("omni-home") as platform:
        platform.models.train("clusters", "kmeans")
        for persona in platform.clusters.personas()["personas"]:
            print(persona["cluster"], persona["size"], persona["description"])
        platform.clusters.assign("email:ann@example.com")["cluster"]
        platform.clusters.save_segment(2, "big-spenders", actor="ana@example.com")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from omnichannel.clustering.features import Features, read_features
from omnichannel.clustering.fit import (
    ALGORITHMS,
    ARTEFACT_FORMAT,
    DEFAULT_ALGORITHM,
    DEFAULT_K_RANGE,
    DEFAULT_SEED,
    ClusterModel,
    check_algorithm,
    check_k_range,
    fit_clusters,
)
from omnichannel.clustering.personas import describe
from omnichannel.clustering.segments import ClusterSegments
from omnichannel.errors import ConflictError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from omnichannel.models.registry import ModelKind, TrainedModel
    from omnichannel.platform import Platform

MODEL = "clusters"
PRIMARY_METRIC = "silhouette"
CHECK_SECONDS = 5.0
MAX_POINTS = 2000  # points of the chart, sampled evenly (seeded) beyond this


class ClustersCapability:
    """Personas of the clustering in use, each person's cluster, clusters as segments."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._lock = threading.Lock()
        self._model: tuple[int, ClusterModel] | None = None
        self._checked = 0.0
        self.segments = ClusterSegments(platform, self)

    # --- the version in use ----------------------------------------------------------

    def model(self) -> tuple[int, ClusterModel]:
        """``(version, model)`` in use; NotFoundError when none is trained."""
        now = time.monotonic()
        with self._lock:
            current = self._model
            if current is not None and now - self._checked < CHECK_SECONDS:
                return current
        loaded = self._platform.models.load(MODEL)
        if loaded is None:
            raise NotFoundError(
                "no clustering is in use: `omni models train clusters` fits one "
                "(it is put in use when it is the first)"
            )
        version, model = loaded
        check_artefact(model, version)
        with self._lock:
            self._model = (version, model)
            self._checked = now
            return self._model

    def forget(self) -> None:
        """Drop the version held (a promotion): the next call loads the one in use."""
        with self._lock:
            self._model = None
            self._checked = 0.0

    # --- answers ---------------------------------------------------------------------

    def personas(self) -> dict[str, Any]:
        """Every cluster of the version in use in words: name, size, share, features."""
        version, model = self.model()
        return {
            **self._summary(version, model),
            "personas": model.personas,
            "segments": self.segments.links(),
        }

    def show(self, cluster: int, *, limit: int = 20) -> dict[str, Any]:
        """One persona with the first ``limit`` of its members (profile ids, sorted)."""
        if not 0 <= limit <= 10_000:
            raise ValidationError("limit", limit, "a whole number 0-10000")
        version, model = self.model()
        persona = self.persona(model, cluster)
        members = self.member_ids(model, cluster)
        return {
            "model": {"name": MODEL, "version": version},
            **persona,
            "members": members[:limit],
            "segments": [s for s in self.segments.links() if s["cluster"] == cluster],
        }

    def assign(self, identifier: str) -> dict[str, Any]:
        """The cluster of the person holding ``type:value`` (or a profile id ``p_...``):
        their cluster in the fit, or, for a profile built since, the nearest cluster."""
        platform = self._platform
        version, model = self.model()
        with platform.warehouse.reader() as wh:
            if model.label_of(identifier) is not None:
                profile_id = identifier  # a profile id of the fit
            else:
                profile_id = platform.lookup.find(wh, identifier).profile_id
            cluster = model.label_of(profile_id)
            how = "fitted"
            if cluster is None:
                features = read_features(wh, columns=model.columns)
                row = _row_of(features, profile_id)
                cluster = int(model.predict(row)[0])
                how = "predicted: built after the fit, assigned to the nearest cluster"
        persona = self.persona(model, cluster)
        return {
            "identifier": identifier,
            "profile_id": profile_id,
            "model": {"name": MODEL, "version": version},
            "cluster": cluster,
            "name": persona["name"],
            "description": persona["description"],
            "assigned": how,
        }

    def chart(self) -> dict[str, Any]:
        """The people of each cluster on the two features that tell clusters apart most
        (largest spread of the clusters' standardised means), natural units."""
        version, model = self.model()
        columns = model.columns
        z = (model.centroids - model.scaling.mean) / model.scaling.std
        order = [int(j) for j in np.argsort(-z.std(axis=0), kind="stable")[:2]]
        x_name, y_name = columns[order[0]], columns[order[-1]]
        with self._platform.warehouse.reader() as wh:
            features = read_features(wh, columns=model.columns)
        labels = _labels_for(model, features)
        rng = np.random.default_rng(model.seed)
        shown = np.arange(len(features))
        if len(shown) > MAX_POINTS:
            shown = np.sort(rng.choice(shown, MAX_POINTS, replace=False))
        series = []
        for persona in model.personas:
            rows = shown[labels[shown] == persona["cluster"]]
            points = features.values[rows][:, [order[0], order[-1]]]
            series.append(
                {
                    "cluster": persona["cluster"],
                    "name": persona["name"],
                    "points": [[round(float(a), 2), round(float(b), 2)] for a, b in points],
                }
            )
        return {
            "model": {"name": MODEL, "version": version},
            "x": x_name,
            "y": y_name,
            "log_scale": [n in LOG_AXES for n in (x_name, y_name)],
            "series": series,
        }

    def save_segment(self, cluster: int, name: str, *, actor: str = "library") -> dict[str, Any]:
        """Save the cluster as a segment ``name`` whose members follow the cluster
        (rewritten each time a new clustering is put in use; see ``segments.py``)."""
        return self.segments.save(cluster, name, actor=actor)

    # --- helpers the faces share -----------------------------------------------------

    def persona(self, model: ClusterModel, cluster: int) -> dict[str, Any]:
        for persona in model.personas:
            if persona["cluster"] == cluster:
                return dict(persona)
        known = ", ".join(str(p["cluster"]) for p in model.personas)
        raise ValidationError("cluster", cluster, f"a cluster of the clustering in use: {known}")

    def member_ids(self, model: ClusterModel, cluster: int) -> list[str]:
        chosen = model.labels == cluster
        return sorted(p for p, keep in zip(model.profile_ids, chosen, strict=True) if keep)

    @staticmethod
    def _summary(version: int, model: ClusterModel) -> dict[str, Any]:
        return {
            "model": {"name": MODEL, "version": version},
            "algorithm": model.algorithm,
            "k": model.k,
            "k_range": list(model.k_range),
            "chosen_by": "bic" if model.algorithm == "gmm" else "silhouette",
            "silhouette": round(model.silhouette, 4),
            "bic": round(model.bic, 1) if model.bic is not None else None,
            "scores": model.scores,
            "profiles": len(model.profile_ids),
            "as_of": model.as_of.isoformat() if model.as_of else None,
            "kept": list(model.kept),
        }

    # --- training --------------------------------------------------------------------

    def train_model(
        self, algorithm: str | None = None, options: Mapping[str, Any] | None = None
    ) -> TrainedModel:
        """Fit ``algorithm`` over the k range on every built profile, matching the
        clusters of the version in use (stable ids), and describe the clusters."""
        from omnichannel.models.registry import TrainedModel

        opts = dict(options or {})
        chosen = check_algorithm(algorithm or DEFAULT_ALGORITHM)
        k_range = check_k_range(
            _whole(opts, "k_min", DEFAULT_K_RANGE[0]), _whole(opts, "k_max", DEFAULT_K_RANGE[1])
        )
        seed = _whole(opts, "seed", DEFAULT_SEED)
        previous = self._previous()
        with self._platform.warehouse.reader() as wh:
            features = read_features(wh)
        model = fit_clusters(features, chosen, k_range=k_range, seed=seed, previous=previous)
        model.personas = describe(model, features)
        cutoff = model.as_of.isoformat() if model.as_of else None
        metrics: dict[str, Any] = {
            "silhouette": round(model.silhouette, 6),
            "k": model.k,
            "chosen_by": "bic" if chosen == "gmm" else "silhouette",
            "profiles": len(model.profile_ids),
            "customers": int((model.labels != 0).sum()),
            "cutoff": cutoff,
        }
        if model.bic is not None:
            metrics["bic"] = round(model.bic, 3)
        return TrainedModel(
            algorithm=chosen,
            artefact=model,
            params={"k_range": list(k_range), "seed": seed, "features": model.columns},
            metrics=metrics,
            split={
                "cutoff": cutoff,
                "profiles": len(model.profile_ids),
                "scores": model.scores,
                "kept_from_previous": list(model.kept),
            },
        )

    def _previous(self) -> ClusterModel | None:
        try:
            loaded = self._platform.models.load(MODEL)
        except (OSError, ValueError, EOFError):  # a missing or unreadable file: no match
            return None
        if loaded is None or loaded[1].__dict__.get("format") != ARTEFACT_FORMAT:
            return None
        model: ClusterModel = loaded[1]
        return model


LOG_AXES = ("days_since_last_order", "orders", "revenue", "average_order_value", "events")


def _row_of(features: Features, profile_id: str) -> np.ndarray:
    try:
        i = features.profile_ids.index(profile_id)
    except ValueError:
        raise NotFoundError(
            f"profile {profile_id} is not built yet: `omni profiles build` builds it"
        ) from None
    return features.values[i : i + 1]


def _labels_for(model: ClusterModel, features: Features) -> np.ndarray:
    """The fit's label of each profile, predicted for profiles built since."""
    labels = np.zeros(len(features), dtype=np.int64)
    missing = []
    for i, pid in enumerate(features.profile_ids):
        found = model.label_of(pid)
        if found is None:
            missing.append(i)
        else:
            labels[i] = found
    if missing:
        labels[missing] = model.predict(features.values[missing])
    return labels


def _whole(options: Mapping[str, Any], key: str, default: int) -> int:
    value = options.get(key)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(key, value, "a whole number") from None


def check_artefact(artefact: Any, version: int | None = None) -> None:
    """Refuse an artefact stored in another format (ConflictError naming what to do)."""
    stored = artefact.__dict__.get("format")
    if stored != ARTEFACT_FORMAT:
        which = f"{MODEL} v{version}" if version is not None else MODEL
        raise ConflictError(
            f"{which} was stored in artefact format {stored} and this version of "
            f"Omnichannel reads format {ARTEFACT_FORMAT}: fit a new version "
            f"(omni models train {MODEL} --promote)"
        )


def _train(platform: Platform, algorithm: str | None, options: Mapping[str, Any]) -> TrainedModel:
    return platform.clusters.train_model(algorithm, options)


def _promoted(platform: Platform) -> None:
    platform.clusters.forget()
    platform.clusters.segments.follow(actor="model:clusters")


def model_kind() -> ModelKind:
    """How the lifecycle fits and compares clusterings."""
    from omnichannel.models.registry import ModelKind

    return ModelKind(
        name=MODEL,
        description="Customer clusters and personas on RFM and behaviour: k-means or GMM.",
        algorithms=ALGORITHMS,
        train=_train,
        primary_metric=PRIMARY_METRIC,
        on_promote=_promoted,
        check_artefact=check_artefact,
    )
