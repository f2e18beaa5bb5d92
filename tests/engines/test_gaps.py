"""Every declared engine gap is in docs/warehouse.md's engine-gap table."""

from __future__ import annotations

from pathlib import Path

from tests.engines.gaps import GAPS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"


def test_gaps_are_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("### Engine gaps", 1)[1].split("\n## ", 1)[0]
    declared = {gap for gaps in GAPS.values() for gap in gaps}
    assert declared, "no gap declared: the table and gaps.py must say the same"
    missing = [gap for gap in declared if f"| `{gap}` |" not in table]
    assert not missing, f"gaps declared in tests/engines/gaps.py but not in the table: {missing}"
