"""The bandit: tomorrow's split follows the evidence, and over days it regrets far less
than an equal split against the oracle."""

from __future__ import annotations

import pytest

from omnichannel.budget.bandit import Arm, simulate, split
from omnichannel.errors import ValidationError


def test_the_campaign_that_converts_more_per_yuan_gets_more_of_tomorrow() -> None:
    arms = [Arm("a", 1000, 40), Arm("b", 1000, 10), Arm("c", 50, 1)]
    rows = {r["arm"]: r for r in split(arms, budget=600, floor=0.05)}
    assert sum(r["budget"] for r in rows.values()) == pytest.approx(600, abs=0.05)
    assert rows["a"]["share"] > 0.7 and rows["b"]["share"] == pytest.approx(0.05, abs=0.01)
    # Little spent, little known: c keeps more than its floor while its interval is wide.
    width = {k: r["rate_high"] - r["rate_low"] for k, r in rows.items()}
    assert width["c"] > 2 * width["a"] and rows["c"]["share"] > rows["b"]["share"]
    assert rows["a"]["rate_low"] < 0.04 < rows["a"]["rate_high"]


def test_a_change_limit_holds_each_share_near_yesterdays() -> None:
    arms = [Arm("a", 1000, 40, yesterday=50), Arm("b", 1000, 10, yesterday=50)]
    rows = split(arms, budget=100, max_change=0.2, floor=0.0)
    assert [r["share"] for r in rows] == pytest.approx([0.6, 0.4], abs=1e-6)


def test_over_sixty_days_it_regrets_a_fraction_of_an_equal_split() -> None:
    result = simulate([0.01, 0.02, 0.03, 0.015], days=60, budget=1000, seed=1, samples=300)
    assert result["regret_bandit"] < 0.25 * result["regret_equal"]
    assert result["bandit"] <= result["oracle"]


def test_no_campaign_or_no_budget_is_refused() -> None:
    with pytest.raises(ValidationError, match="campaigns"):
        split([], budget=10)
    with pytest.raises(ValidationError, match="budget=0"):
        split([Arm("a", 1, 1)], budget=0)
