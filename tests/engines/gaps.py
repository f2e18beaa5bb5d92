"""What each engine is known not to do, declared rather than skipped.

A test that meets a gap calls ``expect_gap``: on that engine it is then an expected
failure, strict, so the run fails once the gap is closed and the declaration must go.
docs/warehouse.md's engine-gap table lists the same gaps (``test_gaps_are_documented``).
"""

from __future__ import annotations

import pytest

GAPS: dict[str, dict[str, str]] = {
    "pyspark": {
        "transactions": (
            "Spark has no multi-statement transactions: an upsert that fails part-way "
            "keeps the steps it had run (the superseded rows are already deleted)"
        ),
    },
}


def expect_gap(request: pytest.FixtureRequest, engine: str, gap: str) -> None:
    """Mark the running test an expected failure where ``engine`` has ``gap``."""
    reason = GAPS.get(engine, {}).get(gap)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{engine} gap {gap}: {reason}"))
