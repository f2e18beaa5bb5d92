"""Which arm of a split a person takes: a pure function of a string key.

The engine keys it on ``f"{enrolment_id}:{step name}"`` and the simulator uses the same
function, so a dry run predicts the same arms a live run would give, and a step re-run
after a crash puts the person in the arm they were already given.
"""

from __future__ import annotations

import hashlib

from omnichannel.journeys.definition import Split

HOLDOUT = "holdout"

# 8 bytes of blake2b give 2**64 evenly spread points: far finer than any weight.
_DIGEST_BYTES = 8
_SPAN = float(2 ** (8 * _DIGEST_BYTES))


def unit_point(key: str) -> float:
    """The key's place in [0, 1): the same key always lands on the same point."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=_DIGEST_BYTES).digest()
    return int.from_bytes(digest, "big") / _SPAN


def arm_for(key: str, split: Split) -> str:
    """The arm name for ``key`` under ``split``, or ``"holdout"``.

    [0, 1) is laid out as the holdout share first (``split.holdout`` percent), then each
    arm in document order with a width proportional to its weight.

    >>> from omnichannel.journeys.definition import Split, SplitArm
    >>> arm_for("42:split", Split(arms=[SplitArm(name="a", weight=1)]))
    'a'
    """
    point = unit_point(key)
    held = split.holdout / 100.0
    if point < held:
        return HOLDOUT
    treated = (point - held) / (1.0 - held)  # holdout < 100, so never a division by 0
    total = sum(arm.weight for arm in split.arms)
    edge = 0.0
    for arm in split.arms:
        edge += arm.weight / total
        if treated < edge:
            return arm.name
    # Rounding can leave the sum of widths a hair under 1: the last arm takes that sliver.
    return split.arms[-1].name
