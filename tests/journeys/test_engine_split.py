"""A split's arms: deterministic per key, spread by weight, with the holdout share."""

from __future__ import annotations

from collections import Counter

from omnichannel.journeys.definition import Split, SplitArm
from omnichannel.journeys.split import HOLDOUT, arm_for, unit_point

SPLIT = Split(
    arms=[SplitArm(name="email", weight=3), SplitArm(name="sms", weight=1)],
    holdout=20,
)


def test_the_same_key_always_takes_the_same_arm() -> None:
    first = [arm_for(f"{n}:split", SPLIT) for n in range(500)]
    again = [arm_for(f"{n}:split", SPLIT) for n in range(500)]
    assert first == again
    # The step name is part of the key: two splits in one journey are not correlated.
    other = [arm_for(f"{n}:other", SPLIT) for n in range(500)]
    assert other != first


def test_arms_follow_holdout_share_then_weights() -> None:
    people = 20_000
    counts = Counter(arm_for(f"{n}:split", SPLIT) for n in range(people))
    assert set(counts) == {HOLDOUT, "email", "sms"}
    # 20% held out; the other 80% split 3:1 -> 60% email, 20% sms. A 1.5-point band is
    # over 5 standard deviations at this size, so the check is stable and still bites.
    assert abs(counts[HOLDOUT] / people - 0.20) < 0.015
    assert abs(counts["email"] / people - 0.60) < 0.015
    assert abs(counts["sms"] / people - 0.20) < 0.015


def test_no_holdout_means_everyone_is_treated() -> None:
    split = Split(arms=[SplitArm(name="only", weight=0.5)])
    assert {arm_for(f"{n}:s", split) for n in range(1000)} == {"only"}


def test_points_cover_the_unit_interval() -> None:
    points = [unit_point(str(n)) for n in range(5000)]
    assert all(0.0 <= p < 1.0 for p in points)
    # Each tenth of [0, 1) gets its share (500 expected).
    deciles = Counter(int(p * 10) for p in points)
    assert all(400 < deciles[d] < 600 for d in range(10))
