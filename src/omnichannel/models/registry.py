"""What the model lifecycle knows of a model: how to train it and which score decides.

A model (``recommendations`` today; propensity and CLV later) registers a ``ModelKind``
in ``model_kinds``: its algorithms, a ``train`` function that fits one and scores it on a
time split, the metric a promotion compares (higher is better unless said otherwise),
and what to do when a version is promoted (the recommendations service drops the
version it serves). The lifecycle (``service.py``) stores versions, metrics and
artefacts the same way for every kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    from omnichannel.platform import Platform


@dataclass
class TrainedModel:
    """A fitted model and its scores: what ``ModelKind.train`` returns."""

    algorithm: str
    artefact: Any  # pickled into <home>/models/<model>/v<N>.pkl
    params: dict[str, Any]
    # Scores, plus ``cutoff`` (ISO time) of the split they were computed on.
    metrics: dict[str, Any]
    split: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelKind:
    """One model the lifecycle manages (see the module docstring)."""

    name: str
    description: str
    algorithms: tuple[str, ...]
    # train(platform, algorithm or None for the configured one, options) -> TrainedModel
    train: Callable[[Platform, str | None, Mapping[str, Any]], TrainedModel]
    primary_metric: str
    higher_is_better: bool = True
    on_promote: Callable[[Platform], None] | None = None
    # Raises when a stored artefact cannot be used (an older format): such a version in
    # use does not block a promotion, whatever its score.
    check_artefact: Callable[[Any], None] | None = None

    def better_or_equal(self, candidate: float, current: float) -> bool:
        return candidate >= current if self.higher_is_better else candidate <= current


def _recommendations() -> ModelKind:
    from omnichannel.recommendations.service import model_kind

    return model_kind()


def _propensity_purchase() -> ModelKind:
    from omnichannel.propensity.service import purchase_kind

    return purchase_kind()


def _propensity_churn() -> ModelKind:
    from omnichannel.propensity.service import churn_kind

    return churn_kind()


# name -> factory, so importing the registry imports no model's libraries.
_FACTORIES: dict[str, Callable[[], ModelKind]] = {
    "recommendations": _recommendations,
    "propensity-purchase-30d": _propensity_purchase,
    "propensity-churn": _propensity_churn,
}


def register(name: str, factory: Callable[[], ModelKind]) -> None:
    """Add a model kind (propensity, CLV...): ``factory`` is called on first use."""
    _FACTORIES[name] = factory


def model_names() -> list[str]:
    return sorted(_FACTORIES)


def model_kind(name: str) -> ModelKind:
    """The registered kind called ``name``; an unknown name lists the known ones."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ValidationError("model", name, "one of " + ", ".join(model_names()))
    return factory()


def _mmm() -> ModelKind:
    from omnichannel.mmm.service import model_kind as mmm_kind

    return mmm_kind()


_FACTORIES["mmm"] = _mmm


def _clusters() -> ModelKind:
    from omnichannel.clustering.service import model_kind as clusters_kind

    return clusters_kind()


_FACTORIES["clusters"] = _clusters
