"""``<home>/recommendations.yaml``: interaction weights, business rules and slots, checked whole.

Every key has a default, so a home without the file recommends with the defaults below.
An error names the path of the bad value and what is accepted::

    recommendations.yaml: slots.email.k=0 is not accepted: expected a whole number 1-100

Example::

    algorithm: als                 # what `omni models train recommendations` fits by default
    weights: {view: 1, add_to_cart: 3, purchase: 5}   # online and in store alike
    cold_start_below: 3            # fewer interactions than this: content-based matching
    replenishable_categories: [beauty, tea & snacks]  # bought again: not excluded
    slots:
      email:  {k: 6, max_per_category: 2}
      home:   {k: 12, max_per_category: 3}
      push:   {k: 1}
      in_app: {k: 4, max_per_category: 2, exclude_viewed: true}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from omnichannel.errors import ConfigError, ValidationError

FILE_NAME = "recommendations.yaml"
ALGORITHMS = ("als", "bpr", "item_knn", "popularity", "content")
KINDS = ("view", "add_to_cart", "purchase")
SLOT_NAMES = ("email", "home", "push", "in_app")
MAX_K = 100


@dataclass(frozen=True)
class Slot:
    """Where recommendations are shown, and the rules they pass there."""

    name: str
    k: int = 6
    # At most this many items of one category (diversity); None: no cap.
    max_per_category: int | None = 2
    exclude_purchased: bool = True
    exclude_viewed: bool = False
    in_stock_only: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "k": self.k,
            "max_per_category": self.max_per_category,
            "exclude_purchased": self.exclude_purchased,
            "exclude_viewed": self.exclude_viewed,
            "in_stock_only": self.in_stock_only,
        }


DEFAULT_SLOTS = {
    "email": Slot("email", k=6, max_per_category=2),
    "home": Slot("home", k=12, max_per_category=3),
    "push": Slot("push", k=1, max_per_category=1),
    "in_app": Slot("in_app", k=4, max_per_category=2, exclude_viewed=True),
}


@dataclass(frozen=True)
class RecommendationsConfig:
    """The whole file (see the module docstring)."""

    algorithm: str = "als"
    weights: Mapping[str, float] = field(
        default_factory=lambda: {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}
    )
    cold_start_below: int = 3
    replenishable_categories: tuple[str, ...] = ("beauty", "tea & snacks")
    # Days at the end of the data held out to score a trained model (the time split).
    holdout_days: int = 14
    factors: int = 64
    iterations: int = 15
    regularization: float = 0.05
    slots: Mapping[str, Slot] = field(default_factory=lambda: dict(DEFAULT_SLOTS))
    source: Path | None = None

    def slot(self, name: str | None) -> Slot:
        """The named slot (``email`` when None); an unknown name lists the configured ones."""
        key = name or "email"
        if key not in self.slots:
            raise ValidationError("slot", key, "one of " + ", ".join(self.slots))
        return self.slots[key]

    def as_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "weights": dict(self.weights),
            "cold_start_below": self.cold_start_below,
            "replenishable_categories": list(self.replenishable_categories),
            "holdout_days": self.holdout_days,
            "factors": self.factors,
            "iterations": self.iterations,
            "regularization": self.regularization,
            "slots": {name: slot.as_dict() for name, slot in self.slots.items()},
            "source": str(self.source) if self.source else None,
        }


def load_config(home: Path) -> RecommendationsConfig:
    """``home/recommendations.yaml`` checked, or the defaults when there is none."""
    path = home / FILE_NAME
    if not path.exists():
        return RecommendationsConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_config(text, source=path)


def parse_config(text: str, *, source: Path | None = None) -> RecommendationsConfig:
    """``text`` (YAML) as a configuration; ``ConfigError`` names the bad path."""
    where = source.name if source else FILE_NAME
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{where} is not valid YAML{place}") from None
    try:
        return _config(document, source)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None


_TOP = (
    "algorithm",
    "weights",
    "cold_start_below",
    "replenishable_categories",
    "holdout_days",
    "factors",
    "iterations",
    "regularization",
    "slots",
)
_SLOT_KEYS = ("k", "max_per_category", "exclude_purchased", "exclude_viewed", "in_stock_only")


def _mapping(value: object, path: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(path or "(file)", value, "a mapping of " + ", ".join(keys))
    for key in value:
        if key not in keys:
            raise ValidationError(f"{path}.{key}" if path else str(key), value[key], _keys(keys))
    return value


def _keys(keys: tuple[str, ...]) -> str:
    return "no such key; the keys are " + ", ".join(keys)


def _int(value: object, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(path, value, f"a whole number {low}-{high}")
    return value


def _number(value: object, path: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValidationError(path, value, f"a number from {low:g} to {high:g}")
    return float(value)


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(path, value, "true or false")
    return value


def _config(document: object, source: Path | None) -> RecommendationsConfig:
    doc = _mapping(document, "", _TOP)
    defaults = RecommendationsConfig()
    algorithm = doc.get("algorithm", defaults.algorithm)
    if algorithm not in ALGORITHMS:
        raise ValidationError("algorithm", algorithm, "one of " + ", ".join(ALGORITHMS))
    weights = dict(defaults.weights)
    for kind, value in _mapping(doc.get("weights", {}), "weights", KINDS).items():
        weights[kind] = _number(value, f"weights.{kind}", 0.0, 1000.0)
    categories = doc.get("replenishable_categories", list(defaults.replenishable_categories))
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise ValidationError("replenishable_categories", categories, "a list of category names")
    slots = dict(DEFAULT_SLOTS)
    for name, spec in _mapping(doc.get("slots", {}), "slots", SLOT_NAMES).items():
        slots[name] = _slot(name, spec)
    return RecommendationsConfig(
        algorithm=algorithm,
        weights=weights,
        cold_start_below=_int(
            doc.get("cold_start_below", defaults.cold_start_below), "cold_start_below", 0, 1000
        ),
        replenishable_categories=tuple(categories),
        holdout_days=_int(doc.get("holdout_days", defaults.holdout_days), "holdout_days", 1, 365),
        factors=_int(doc.get("factors", defaults.factors), "factors", 2, 512),
        iterations=_int(doc.get("iterations", defaults.iterations), "iterations", 1, 200),
        regularization=_number(
            doc.get("regularization", defaults.regularization), "regularization", 0.0, 100.0
        ),
        slots=slots,
        source=source,
    )


def _slot(name: str, spec: object) -> Slot:
    path = f"slots.{name}"
    doc = _mapping(spec if spec is not None else {}, path, _SLOT_KEYS)
    base = DEFAULT_SLOTS[name]
    cap = doc.get("max_per_category", base.max_per_category)
    return Slot(
        name=name,
        k=_int(doc.get("k", base.k), f"{path}.k", 1, MAX_K),
        max_per_category=None if cap is None else _int(cap, f"{path}.max_per_category", 1, MAX_K),
        exclude_purchased=_bool(
            doc.get("exclude_purchased", base.exclude_purchased), f"{path}.exclude_purchased"
        ),
        exclude_viewed=_bool(
            doc.get("exclude_viewed", base.exclude_viewed), f"{path}.exclude_viewed"
        ),
        in_stock_only=_bool(doc.get("in_stock_only", base.in_stock_only), f"{path}.in_stock_only"),
    )
