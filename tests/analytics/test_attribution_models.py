"""Each model on path sets small enough to credit by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from omnichannel.analytics.attribution.heuristics import (
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from omnichannel.analytics.attribution.markov import markov
from omnichannel.analytics.attribution.paths import PathSet
from omnichannel.analytics.attribution.shapley import shapley
from omnichannel.errors import ValidationError

THREE = PathSet.from_sequences(
    [["search", "email", "direct"], ["direct"], ["email", "search"]],
    conversions=[2, 1, 1],
    value=[100, 10, 50],
    nulls=[0, 0, 3],
)


def credits(credit: object) -> dict[str, float]:
    return {c: round(v[0], 6) for c, v in credit.by_channel().items()}  # type: ignore[attr-defined]


def test_rule_based_models_share_each_path_as_defined() -> None:
    assert credits(first_touch(THREE)) == {"direct": 1, "email": 1, "search": 2}
    assert credits(last_touch(THREE)) == {"direct": 3, "email": 0, "search": 1}
    # The direct-only path keeps its credit; the first path's goes to email before direct.
    assert credits(last_non_direct(THREE)) == {"direct": 1, "email": 2, "search": 1}
    third = 2 / 3
    assert credits(linear(THREE)) == pytest.approx(
        {"direct": 1 + third, "email": third + 0.5, "search": third + 0.5}
    )
    assert credits(position_based(THREE)) == pytest.approx(
        {"direct": 1.8, "email": 0.9, "search": 1.3}
    )


def test_time_decay_halves_the_weight_per_half_life() -> None:
    # Path files carry no times: age is touches after; half-life of one touch.
    got = credits(time_decay(THREE, half_life=1))
    assert got == pytest.approx(
        {"search": 2 * 0.25 / 1.75 + 2 / 3, "email": 2 * 0.5 / 1.75 + 1 / 3, "direct": 2 / 1.75 + 1}
    )
    dated = PathSet.from_sequences([["a", "b"]], [1], ages=[[14.0, 0.0]])
    # 14 days before at a 7-day half-life: a quarter of the weight of the touch on the day.
    assert credits(time_decay(dated, half_life=7)) == pytest.approx({"a": 0.2, "b": 0.8})


def test_value_is_credited_with_the_conversions() -> None:
    value = {c: v[1] for c, v in first_touch(THREE).by_channel().items()}
    assert value == {"direct": 10, "email": 50, "search": 100}


def test_markov_removal_effects_match_the_textbook_chain() -> None:
    # Anderl et al.'s three-path example: C1 > C2 > C3 converts, C1 and C2 > C3 do not.
    # P(conv) = 2/3 * 1/2 * 1/2 + 1/3 * 1/2 = 1/3; without C1 it is 1/6, without C2 or C3, 0.
    paths = PathSet.from_sequences(
        [["c1", "c2", "c3"], ["c1"], ["c2", "c3"]], [1, 0, 0], [10, 0, 0], [0, 1, 1]
    )
    got = markov(paths)
    assert got.details["conversion_probability"] == pytest.approx(1 / 3)
    assert got.details["removal_effects"] == pytest.approx({"c1": 0.5, "c2": 1.0, "c3": 1.0})
    assert credits(got) == pytest.approx({"c1": 0.2, "c2": 0.4, "c3": 0.4})


def test_markov_solves_a_chain_with_a_loop_exactly() -> None:
    # a > b converts (value 30), b > a and a do not. Transitions: start->a 2/3, start->b 1/3,
    # a->b 1/3, a->null 2/3, b->conv 1/2, b->a 1/2. Solving x_a = x_b / 3 and
    # x_b = 1/2 + x_a / 2 by hand: x_b = 3/5, x_a = 1/5, x_start = 1/3.
    # Without a: x_b = 1/2, x_start = 1/6 (effect 1/2); without b: 0 (effect 1).
    paths = PathSet.from_sequences(
        [["a", "b"], ["b", "a"], ["a"]], [1, 0, 0], [30, 0, 0], [0, 1, 1]
    )
    got = markov(paths)
    assert got.details["conversion_probability"] == pytest.approx(1 / 3)
    assert got.details["removal_effects"] == pytest.approx({"a": 0.5, "b": 1.0})
    assert credits(got) == pytest.approx({"a": 1 / 3, "b": 2 / 3})
    value = {c: v[1] for c, v in got.by_channel().items()}
    assert value == pytest.approx({"a": 10, "b": 20})


def test_higher_orders_see_which_channel_came_before() -> None:
    # c converts after a and never after b. Order 1 cannot tell them apart at c.
    paths = PathSet.from_sequences([["a", "c"], ["b", "c"]], [2, 0], nulls=[0, 2])
    assert credits(markov(paths, order=1)) == pytest.approx({"a": 0.5, "b": 0.5, "c": 1.0})
    # Order 2: state (a, c) converts, (b, c) does not; removing b costs nothing.
    second = markov(paths, order=2)
    assert credits(second) == pytest.approx({"a": 1.0, "b": 0.0, "c": 1.0})
    assert second.details["states"] == 4
    # Order 3 on the textbook chain: every state of the converting path holds C1, so
    # removing any channel stops every conversion and they share equally.
    textbook = PathSet.from_sequences(
        [["c1", "c2", "c3"], ["c1"], ["c2", "c3"]], [1, 0, 0], nulls=[0, 1, 1]
    )
    third = markov(textbook, order=3)
    assert third.details["states"] == 5
    assert credits(third) == pytest.approx({"c1": 1 / 3, "c2": 1 / 3, "c3": 1 / 3})


def test_markov_refuses_an_order_outside_one_to_three() -> None:
    with pytest.raises(ValidationError, match="order=4"):
        markov(THREE, order=4)


def brute_force_shapley(
    worth_of: dict[frozenset[str], float], players: list[str]
) -> dict[str, float]:
    """The general Shapley formula over every subset, with v(S) = sum of r(T), T in S."""
    n = len(players)

    def v(s: frozenset[str]) -> float:
        return sum(r for t, r in worth_of.items() if t <= s)

    phi = {}
    for j in players:
        others = [p for p in players if p != j]
        total = 0.0
        for k in range(n):
            for subset in itertools.combinations(others, k):
                s = frozenset(subset)
                weight = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
                total += weight * (v(s | {j}) - v(s))
        phi[j] = total
    return phi


@pytest.mark.parametrize("with_nulls", [True, False])
def test_shapley_equals_the_general_formula_over_every_subset(with_nulls: bool) -> None:
    rng = np.random.default_rng(3)
    channels = ["a", "b", "c", "d", "e"]
    paths = [list(rng.choice(channels, size=rng.integers(1, 5))) for _ in range(40)]
    conversions = rng.integers(0, 4, len(paths)).astype(float)
    nulls = rng.integers(0, 6, len(paths)).astype(float) if with_nulls else np.zeros(len(paths))
    got = shapley(PathSet.from_sequences(paths, conversions, nulls=nulls))

    by_set: dict[frozenset[str], list[float]] = {}
    for p, c, z in zip(paths, conversions, nulls, strict=True):
        agg = by_set.setdefault(frozenset(p), [0.0, 0.0])
        agg[0] += c
        agg[1] += z
    if with_nulls:
        r = {t: (c / (c + z) if c + z else 0.0) for t, (c, z) in by_set.items()}
    else:
        r = {t: c for t, (c, z) in by_set.items()}
    expected = brute_force_shapley(r, channels)
    assert got.details["worth"] == ("conversion_rate" if with_nulls else "conversions")
    assert got.details["shapley_values"] == pytest.approx(expected)
    assert sum(credits(got).values()) == pytest.approx(conversions.sum())
    if not with_nulls:  # Zhao's count form is efficient as it stands: no scaling needed
        assert credits(got) == pytest.approx(expected)
