"""Rule-based models: each touch of a path gets a fixed share of the path's conversions.

Every rule is a weight per touch, computed for all touches at once; a channel's credit is
the sum over its touches of weight x the path's conversions (and value), one
``np.bincount``. Weights of one path add up to 1, so the credits add up to the
conversions. Nulls play no part here: a rule only shares out what converted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omnichannel.analytics.attribution.paths import PathSet
from omnichannel.errors import ValidationError

DIRECT_CHANNELS = frozenset({"direct", "(direct)", "none", "(none)"})
POSITION_SHARES = (0.4, 0.2, 0.4)  # first, middle (shared), last


@dataclass(frozen=True)
class Credit:
    """Per channel, the conversions and value a model credits it with."""

    model: str
    channels: tuple[str, ...]
    conversions: np.ndarray
    value: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)

    def by_channel(self) -> dict[str, tuple[float, float]]:
        return {
            c: (float(self.conversions[i]), float(self.value[i]))
            for i, c in enumerate(self.channels)
        }


def credit_of(model: str, paths: PathSet, weights: np.ndarray, **details: Any) -> Credit:
    """Sum ``weights`` (one per touch) x each path's conversions and value per channel."""
    of = paths.path_of_touch()
    n = len(paths.channels)
    return Credit(
        model=model,
        channels=paths.channels,
        conversions=np.bincount(paths.touches, weights * paths.conversions[of], minlength=n),
        value=np.bincount(paths.touches, weights * paths.value[of], minlength=n),
        details=details,
    )


def first_touch(paths: PathSet) -> Credit:
    return credit_of("first_touch", paths, (paths.position() == 0).astype(np.float64))


def last_touch(paths: PathSet) -> Credit:
    return credit_of("last_touch", paths, (paths.steps_before_end() == 0).astype(np.float64))


def last_non_direct(paths: PathSet, direct: frozenset[str] = DIRECT_CHANNELS) -> Credit:
    """The last touch that is not direct; direct only when the whole path is direct."""
    is_direct = np.isin(
        paths.touches,
        [i for i, c in enumerate(paths.channels) if c.strip().lower() in direct],
    )
    position = paths.position()
    # Per path, the position of its last non-direct touch (-1: none, take the last touch).
    candidate = np.where(is_direct, -1, position)
    last_kept = np.maximum.reduceat(candidate, paths.offsets[:-1])
    of = paths.path_of_touch()
    chosen = np.where(last_kept[of] >= 0, position == last_kept[of], paths.steps_before_end() == 0)
    return credit_of("last_non_direct", paths, chosen.astype(np.float64))


def linear(paths: PathSet) -> Credit:
    return credit_of("linear", paths, 1.0 / np.repeat(paths.lengths, paths.lengths))


def position_based(paths: PathSet, shares: tuple[float, float, float] = POSITION_SHARES) -> Credit:
    """40 % to the first touch, 40 % to the last, 20 % shared by those between.

    One touch takes everything; two share the middle's part equally (50/50).
    """
    first, middle, last = shares
    length = np.repeat(paths.lengths, paths.lengths)
    position = paths.position()
    weights = np.where(position == 0, first, np.where(position == length - 1, last, 0.0))
    inner = length > 2
    weights = np.where(
        inner & (position > 0) & (position < length - 1),
        middle / np.maximum(length - 2, 1),
        weights,
    )
    weights = np.where(length == 2, 0.5, weights)
    weights = np.where(length == 1, 1.0, weights)
    return credit_of("position_based", paths, weights)


def time_decay(paths: PathSet, half_life: float = 7.0) -> Credit:
    """Weight 2^(-age / half_life), normalised within each path.

    Age is the touch's days before the conversion on warehouse paths; on path files, which
    carry no times, it is the number of touches after it (``half_life`` in touches).
    """
    if not half_life > 0:
        raise ValidationError("half_life", half_life, "a number of days > 0")
    age = paths.ages if paths.ages is not None else paths.steps_before_end().astype(np.float64)
    raw = np.exp2(-age / half_life)
    total = np.add.reduceat(raw, paths.offsets[:-1])
    weights = raw / total[paths.path_of_touch()]
    unit = "days" if paths.ages is not None else "touches"
    return credit_of("time_decay", paths, weights, half_life=half_life, half_life_unit=unit)
