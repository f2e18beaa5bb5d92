"""Markov chain attribution by removal effect, solved exactly (no simulation).

Paths become walks through states: ``start``, one state per touch, then ``conversion``
(as often as the path converted) or ``null`` (as often as it did not). With order k, a
touch's state is the last k channels up to it (fewer at a path's beginning), so
``search > email`` and ``display > email`` are different states at order 2.

Transition probabilities are the observed counts, normalised per state. The probability
of reaching ``conversion`` from each transient state is the solution ``x`` of the
absorbing chain's linear system ``(I - Q) x = r``, where ``Q`` holds the transient
transitions and ``r`` the one-step conversion probabilities. Removing a channel turns
every state that contains it into ``null``: its rows and columns leave the system.
The removal effect of channel c is ``1 - x_without_c[start] / x[start]``; the
conversions are shared out in proportion to the removal effects (as ChannelAttribution
and Anderl et al. 2016 do). Value is shared the same way, with ``r`` replaced by the
expected conversion value one step ahead, so channels whose paths convert big orders
get more of the value.

The system is sparse (a state leads to a few others) and small (tens of states at order
1, thousands at order 3), so ``scipy.sparse.linalg.splu`` solves it in milliseconds;
the work that grows with the data is counting transitions, one ``np.unique`` over
integer keys.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from omnichannel.analytics.attribution.heuristics import Credit
from omnichannel.analytics.attribution.paths import PathSet
from omnichannel.errors import ValidationError

START, CONVERSION, NULL = 0, 1, 2
MAX_ORDER = 3


def state_codes(paths: PathSet, order: int) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Each touch's state (an index into the returned list of channel-code tuples)."""
    base = len(paths.channels) + 1
    position = paths.position()
    key = np.zeros(len(paths.touches), dtype=np.int64)
    for back in range(order):
        shifted = np.empty_like(key)
        shifted[back:] = paths.touches[: len(key) - back] if back else paths.touches
        shifted[:back] = -1
        # Before the path's beginning there is no channel: 0, which no channel code uses.
        digit = np.where(position >= back, shifted + 1, 0)
        key = key * base + digit
    unique, inverse = np.unique(key, return_inverse=True)
    states = [_decode(int(k), base, order) for k in unique]
    return inverse.astype(np.int64), states


def _decode(key: int, base: int, order: int) -> tuple[int, ...]:
    digits = []
    for _ in range(order):
        key, digit = divmod(key, base)
        digits.append(digit)
    # The least significant digit is the oldest channel; 0 is "before the path's start".
    return tuple(d - 1 for d in digits if d)


def transitions(
    paths: PathSet, order: int
) -> tuple[sp.csr_matrix, np.ndarray, list[tuple[int, ...]]]:
    """Counts between nodes (0 start, 1 conversion, 2 null, 3+ states) and value to conversion."""
    state, states = state_codes(paths, order)
    node = state + 3
    n_nodes = len(states) + 3
    walks = paths.conversions + paths.nulls
    of = paths.path_of_touch()
    first = paths.offsets[:-1]
    last = paths.offsets[1:] - 1
    is_last = np.zeros(len(node), dtype=bool)
    is_last[last] = True
    # start -> first state; each state -> the next in its path; last -> conversion / null.
    src = np.concatenate([np.full(len(first), START), node[~is_last], node[last], node[last]])
    dst = np.concatenate(
        [
            node[first],
            node[1:][~is_last[:-1]],
            np.full(len(last), CONVERSION),
            np.full(len(last), NULL),
        ]
    )
    weight = np.concatenate([walks, walks[of][~is_last], paths.conversions, paths.nulls])
    keep = weight > 0
    counts = sp.coo_matrix((weight[keep], (src[keep], dst[keep])), shape=(n_nodes, n_nodes)).tocsr()
    value_to_conversion = np.bincount(node[last], paths.value, minlength=n_nodes)
    return counts, value_to_conversion, states


def markov(paths: PathSet, order: int = 1) -> Credit:
    """Credit by removal effect on the order-``order`` chain (1 to 3)."""
    if order not in range(1, MAX_ORDER + 1):
        raise ValidationError("order", order, f"1, 2 or {MAX_ORDER}")
    counts, value_in, states = transitions(paths, order)
    out = np.asarray(counts.sum(axis=1)).ravel()
    transient = np.r_[START, np.arange(3, counts.shape[0])]
    safe = np.where(out > 0, out, 1.0)
    probabilities = sp.diags(1.0 / safe) @ counts
    q = probabilities[transient][:, transient].tocsc()
    r_conv = np.asarray(probabilities[:, [CONVERSION]].todense()).ravel()[transient]
    r_value = (value_in / safe)[transient]
    system = (sp.identity(len(transient), format="csc") - q).tocsc()
    base_conv, base_value = _solve(system, r_conv, r_value)
    n = len(paths.channels)
    effect = np.zeros(n)
    effect_value = np.zeros(n)
    # Which transient rows each channel's removal takes out (row 0, start, always stays).
    contains = _containing(states, n)
    for channel in range(n):
        keep = np.r_[0, 1 + np.flatnonzero(~contains[channel])]
        conv, value = _solve(system[keep][:, keep].tocsc(), r_conv[keep], r_value[keep])
        effect[channel] = 1 - conv / base_conv if base_conv > 0 else 0.0
        effect_value[channel] = 1 - value / base_value if base_value > 0 else 0.0
    return Credit(
        model="markov",
        channels=paths.channels,
        conversions=_share(effect, paths.total_conversions),
        value=_share(effect_value, paths.total_value),
        details={
            "order": order,
            "states": len(states),
            "conversion_probability": base_conv,
            "removal_effects": {c: float(effect[i]) for i, c in enumerate(paths.channels)},
        },
    )


def _containing(states: list[tuple[int, ...]], n_channels: int) -> np.ndarray:
    """``[channel, state]``: does the state hold the channel."""
    contains = np.zeros((n_channels, len(states)), dtype=bool)
    for s, channels in enumerate(states):
        contains[list(channels), s] = True
    return contains


def _solve(system: sp.csc_matrix, *rhs: np.ndarray) -> tuple[float, ...]:
    """The start row of the solution for each right-hand side."""
    if system.shape[0] == 1:
        return tuple(float(b[0] / system[0, 0]) for b in rhs)
    solution = splu(system).solve(np.column_stack(rhs))
    return tuple(float(v) for v in np.atleast_2d(solution)[0])


def _share(effect: np.ndarray, total: float) -> np.ndarray:
    positive = np.clip(effect, 0.0, None)
    s = positive.sum()
    return positive / s * total if s > 0 else np.zeros_like(effect)
