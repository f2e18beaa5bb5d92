"""Shapley value attribution over the channel sets seen together (Zhao et al. 2018).

Each path is reduced to its coalition: the set of channels it touched (order and
repeats dropped). Following Zhao, Mahboobi and Bagheri, "Shapley value methods for
attribution modeling in online advertising" (2018, arXiv:1804.05327), the worth of a
coalition S is the sum of what the coalitions inside it achieved on their own,
``v(S) = sum over T subset of S of r(T)``. With that characteristic function the
Shapley value has the closed form

    phi_j = sum over observed T containing j of r(T) / |T|

which is exactly the general formula ``sum_S |S|!(n-|S|-1)!/n! (v(S + j) - v(S))`` but
needs only the coalitions that occur, not all 2^n subsets (a test checks the two agree).

``r(T)``, the variant (``worth``):

- ``conversion_rate`` (the default when the paths have nulls): conversions / (conversions
  + nulls) of the paths whose channel set is exactly T, so a coalition is worth how well
  it converts, and nulls count;
- ``conversions`` (the default when no path has nulls, as Zhao's count form): the
  conversions of those paths.

The values are then scaled so the credits add up to the conversions (and, with the value
per path in place of the rate, to the value).
"""

from __future__ import annotations

import numpy as np

from omnichannel.analytics.attribution.heuristics import Credit
from omnichannel.analytics.attribution.paths import PathSet
from omnichannel.errors import ValidationError

MAX_CHANNELS = 62  # coalitions are bit masks in one int64
WORTHS = ("auto", "conversion_rate", "conversions")


def coalitions(paths: PathSet) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct channel sets (bit masks) with their conversions, value and nulls."""
    if len(paths.channels) > MAX_CHANNELS:
        raise ValidationError(
            "model",
            "shapley",
            f"at most {MAX_CHANNELS} channels (these paths have "
            f"{len(paths.channels)}); group channels or use markov",
        )
    bits = np.left_shift(np.int64(1), paths.touches.astype(np.int64))
    masks = np.bitwise_or.reduceat(bits, paths.offsets[:-1])
    unique, inverse = np.unique(masks, return_inverse=True)
    k = len(unique)
    return (
        unique,
        np.bincount(inverse, paths.conversions, minlength=k),
        np.bincount(inverse, paths.value, minlength=k),
        np.bincount(inverse, paths.nulls, minlength=k),
    )


def members(masks: np.ndarray, n_channels: int) -> np.ndarray:
    """``[coalition, channel]``: is the channel in the coalition."""
    return (masks[:, None] >> np.arange(n_channels, dtype=np.int64)[None, :]) & 1 == 1


def worth(conversions: np.ndarray, nulls: np.ndarray, variant: str) -> tuple[np.ndarray, str]:
    if variant not in WORTHS:
        raise ValidationError("worth", variant, ", ".join(WORTHS))
    if variant == "auto":
        variant = "conversion_rate" if nulls.sum() > 0 else "conversions"
    if variant == "conversions":
        return conversions, variant
    walks = conversions + nulls
    return np.divide(conversions, walks, out=np.zeros_like(walks), where=walks > 0), variant


def shapley(paths: PathSet, worth_of: str = "auto") -> Credit:
    """Credit by the Shapley value of each channel (Zhao et al.'s simplified formula)."""
    masks, conversions, value, nulls = coalitions(paths)
    n = len(paths.channels)
    inside = members(masks, n)
    size = inside.sum(axis=1)
    r, variant = worth(conversions, nulls, worth_of)
    if variant == "conversions":
        r_value = value
    else:
        walks = conversions + nulls
        r_value = np.divide(value, walks, out=np.zeros_like(walks), where=walks > 0)
    phi = (inside * (r / size)[:, None]).sum(axis=0)
    phi_value = (inside * (r_value / size)[:, None]).sum(axis=0)
    return Credit(
        model="shapley",
        channels=paths.channels,
        conversions=_scaled(phi, paths.total_conversions),
        value=_scaled(phi_value, paths.total_value),
        details={
            "worth": variant,
            "coalitions": len(masks),
            "shapley_values": {c: float(phi[i]) for i, c in enumerate(paths.channels)},
        },
    )


def _scaled(phi: np.ndarray, total: float) -> np.ndarray:
    s = phi.sum()
    return phi / s * total if s > 0 else np.zeros_like(phi)
