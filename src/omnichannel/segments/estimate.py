"""Before saving a segment: its size, a sample of members, and each top-level condition's
size alone, so a marketer sees which condition narrows the audience most.

Example::

    e = estimate(parse_definition(text), wh, now=datetime.now(UTC))
    e.size, e.sample[:3], [(c.condition, c.size) for c in e.conditions]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import ibis.expr.types as ir

from omnichannel.identity.rules import IdentityRules
from omnichannel.segments.compile import node_members, sources
from omnichannel.segments.definition import AllOf, AnyOf, SegmentDefinition, kind_of
from omnichannel.segments.describe import describe
from omnichannel.segments.sources import EventSource
from omnichannel.warehouse import Warehouse

DEFAULT_SAMPLE = 10


@dataclass(frozen=True)
class ConditionSize:
    """One top-level condition evaluated alone."""

    path: str  # where it sits in the document: condition.all[1]
    kind: str  # trait, event, device...
    condition: str  # in words
    size: int


@dataclass(frozen=True)
class Estimate:
    size: int
    sample: list[str]  # profile ids, the first ``sample`` by id
    conditions: list[ConditionSize]
    profiles: int  # every known profile, for the share

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def top_level(definition: SegmentDefinition) -> list[tuple[str, object]]:
    """The conditions a definition combines at its top (itself when it is one condition)."""
    c = definition.condition
    if isinstance(c, AllOf):
        return [(f"condition.all[{i}]", child) for i, child in enumerate(c.all)]
    if isinstance(c, AnyOf):
        return [(f"condition.any[{i}]", child) for i, child in enumerate(c.any)]
    return [("condition", c)]


def estimate(
    definition: SegmentDefinition,
    wh: Warehouse,
    *,
    now: datetime,
    sample: int = DEFAULT_SAMPLE,
    rules: IdentityRules | None = None,
    event_source: EventSource = "auto",
) -> Estimate:
    """Size, a sample and the size of each top-level condition alone (as of ``now``)."""
    src = sources(wh, now=now, rules=rules, event_source=event_source)
    found = node_members(definition.condition, src).select("profile_id").distinct()
    ids = found.order_by("profile_id").limit(sample).to_pyarrow().column("profile_id")
    parts = [
        ConditionSize(
            path=path,
            kind=kind_of(node),
            condition=describe(node),
            size=_count(node_members(node, src).select("profile_id").distinct()),
        )
        for path, node in top_level(definition)
    ]
    return Estimate(
        size=_count(found),
        sample=[str(v) for v in ids.to_pylist()],
        conditions=parts,
        profiles=_count(src.universe()),
    )


def _count(t: ir.Table) -> int:
    return int(t.count().to_pyarrow().as_py())
