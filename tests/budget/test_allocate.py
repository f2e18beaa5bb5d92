"""Allocation on known curves: the optimum's marginal returns, limits, goals, errors."""

from __future__ import annotations

import numpy as np
import pytest

from omnichannel.budget.allocate import allocate, compare
from omnichannel.errors import ValidationError
from omnichannel.mmm.curves import ChannelCurve, ResponseModel

CURVES = (
    ChannelCurve("search", decay=0.3, half=3000.0, shape=1.0, top=400.0),
    ChannelCurve("social", decay=0.5, half=2000.0, shape=1.2, top=250.0),
    ChannelCurve("video", decay=0.6, half=5000.0, shape=2.5, top=600.0),  # S-shaped
    ChannelCurve("display", decay=0.2, half=1500.0, shape=0.8, top=120.0),
)
CURRENT = {"search": 3000.0, "social": 2000.0, "video": 2000.0, "display": 1000.0}


def _draws(count: int = 100) -> tuple[tuple[ChannelCurve, ...], ...]:
    rng = np.random.default_rng(7)
    return tuple(
        tuple(
            ChannelCurve(c.channel, c.decay, c.half * rng.lognormal(0, 0.1), c.shape, c.top)
            for c in CURVES
        )
        for _ in range(count)
    )


MODEL = ResponseModel("orders", "day", CURVES, 100.0, _draws(), value_per_unit=50.0)


def _by_channel(result: dict) -> dict[str, dict]:
    return {row["channel"]: row for row in result["channels"]}


def test_at_the_optimum_free_channels_return_the_same_on_their_next_unit() -> None:
    result = allocate(MODEL, total=8000, current=CURRENT)
    rows = _by_channel(result)
    assert sum(r["recommended"] for r in rows.values()) == pytest.approx(8000, abs=0.05)
    free = [r["marginal"] for r in rows.values() if r["held"] == "free"]
    assert len(free) == 4
    assert max(free) - min(free) < 1e-3 * max(free)
    # It beats the current split and a brute-force search over a grid of splits.
    assert result["outcome"]["effect"] > result["outcome"]["current_effect"]
    grid = np.linspace(0, 8000, 41)
    best = max(
        MODEL.outcome([a, b, c, 8000 - a - b - c])
        for a in grid
        for b in grid
        for c in grid
        if a + b + c <= 8000
    )
    assert result["outcome"]["effect"] >= best - 1e-6
    # The interval comes from the draws and holds the point estimate.
    out = result["outcome"]
    assert out["effect_low"] < out["effect"] < out["effect_high"]


def test_a_channel_held_at_its_limit_is_on_the_right_side_of_the_others() -> None:
    result = allocate(MODEL, total=8000, maximum={"video": 1000}, minimum={"display": 2500})
    rows = _by_channel(result)
    assert rows["video"]["held"] == "max" and rows["video"]["recommended"] == pytest.approx(1000)
    assert rows["display"]["held"] == "min"
    level = result["equal_marginal"]
    assert rows["search"]["held"] == rows["social"]["held"] == "free"
    assert rows["search"]["marginal"] == pytest.approx(rows["social"]["marginal"], rel=1e-3)
    # Held down, video would still return more than the free channels on its next unit...
    assert rows["video"]["marginal"] > level
    # ...and held up, display returns less.
    assert rows["display"]["marginal"] < level


def test_an_s_shaped_curve_does_not_trap_the_optimiser() -> None:
    steep = (
        ChannelCurve("a", 0.0, 1000.0, 1.0, 100.0),
        ChannelCurve("b", 0.0, 5000.0, 4.0, 2000.0),  # nothing until ~3000, then a lot
    )
    model = ResponseModel("orders", "day", steep, 0.0)
    result = allocate(model, total=8000, starts=4)
    grid = np.linspace(0, 8000, 801)
    best = max(model.outcome([a, 8000 - a]) for a in grid)
    assert result["outcome"]["effect"] >= best - 1e-3


def test_change_limits_and_the_goals() -> None:
    limited = allocate(MODEL, total=8000, current=CURRENT, max_change=0.2)
    for row in limited["channels"]:
        now = CURRENT[row["channel"]]
        assert now * 0.8 - 0.01 <= row["recommended"] <= now * 1.2 + 0.01
    cpa = allocate(MODEL, total=8000, goal="cpa", volume=300)
    assert cpa["outcome"]["effect"] >= 300 - 1e-3
    assert cpa["outcome"]["cpa"] < allocate(MODEL, total=8000)["outcome"]["cpa"]
    roas = allocate(MODEL, total=20000, goal="roas", target_roas=4.0)
    assert roas["outcome"]["roas"] >= 4.0 - 1e-6
    assert roas["outcome"]["spend"] < 20000  # spending it all would fall under the target


def test_infeasible_limits_are_refused_naming_them() -> None:
    with pytest.raises(ValidationError, match=r"min search=5000, min video=4000"):
        allocate(MODEL, total=8000, minimum={"search": 5000, "video": 4000})
    with pytest.raises(ValidationError, match=r"min.video.*current video 2000 \+ 10%"):
        allocate(MODEL, total=8000, current=CURRENT, max_change=0.1, minimum={"video": 3000})
    with pytest.raises(ValidationError, match=r"total=10000.*upper limits"):
        allocate(MODEL, total=10000, current=CURRENT, max_change=0.1)
    with pytest.raises(ValidationError, match=r"max.tv.*a channel of the model"):
        allocate(MODEL, total=8000, maximum={"tv": 10})
    with pytest.raises(ValidationError, match=r"goal='reach'"):
        allocate(MODEL, total=8000, goal="reach")
    with pytest.raises(ValidationError, match=r"volume=100000"):
        allocate(MODEL, total=8000, goal="cpa", volume=100000)
    with pytest.raises(ValidationError, match=r"target_roas=500"):
        allocate(MODEL, total=8000, goal="roas", target_roas=500)


def test_scenarios_side_by_side_keep_a_failing_one_as_its_row() -> None:
    table = compare(
        MODEL,
        [
            {"name": "now", "total": 8000},
            {"name": "more", "total": 12000},
            {"name": "no video", "total": 8000, "max": {"video": 0}},
            {"name": "impossible", "total": 100, "min": {"search": 500}},
        ],
    )
    rows = {row["name"]: row for row in table["rows"]}
    assert rows["more"]["effect"] > rows["now"]["effect"] > rows["no video"]["effect"]
    assert rows["no video"]["spend:video"] == 0
    assert "min search=500" in rows["impossible"]["error"]
    assert "spend:search" in table["columns"]
