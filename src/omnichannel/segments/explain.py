"""Why one profile is or is not a member: each condition with what was observed.

Every leaf is read through the same measure the compiler uses (``leaves.py``), for this
one profile, so the explanation cannot disagree with membership::

    Order Completed at least 3 times in the last 30 days: no
      Order Completed: 1 time in the last 30 days, needs at least 3
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import ibis

from omnichannel.errors import ValidationError
from omnichannel.identity.rules import IdentityRules
from omnichannel.segments.compile import sources
from omnichannel.segments.definition import (
    AllOf,
    AnyOf,
    ConsentCondition,
    DeviceCondition,
    EventCondition,
    MessageCondition,
    NotOf,
    OrderCondition,
    SegmentCondition,
    SegmentDefinition,
    SequenceCondition,
    TagCondition,
    TraitCondition,
    children,
    kind_of,
)
from omnichannel.segments.describe import count_text, describe, moment, window_text
from omnichannel.segments.leaves import measure
from omnichannel.segments.sources import EventSource, Sources
from omnichannel.warehouse import Warehouse


@dataclass(frozen=True)
class Finding:
    path: str
    kind: str
    condition: str  # the condition in words
    passed: bool
    observed: str  # what this profile has, and what the condition needs ("" for groups)
    value: Any = None  # the measured value (a count, a sum, a trait value...)
    children: list[Finding] = field(default_factory=list)

    def lines(self, depth: int = 0) -> list[str]:
        pad = "  " * depth
        out = [f"{pad}{'yes' if self.passed else 'no '} {self.condition}"]
        if self.observed:
            out.append(f"{pad}      {self.observed}")
        for child in self.children:
            out.extend(child.lines(depth + 1))
        return out


@dataclass(frozen=True)
class Explanation:
    profile_id: str
    member: bool
    finding: Finding

    def lines(self) -> list[str]:
        verdict = "is a member" if self.member else "is not a member"
        return [f"{self.profile_id} {verdict}", *self.finding.lines(1)]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(
    definition: SegmentDefinition,
    wh: Warehouse,
    profile_id: str,
    *,
    now: datetime,
    rules: IdentityRules | None = None,
    event_source: EventSource = "auto",
) -> Explanation:
    """Whether ``profile_id`` is a member as of ``now``, condition by condition."""
    one = ibis.memtable({"profile_id": [profile_id]})
    src = sources(wh, now=now, profile_ids=one, rules=rules, event_source=event_source)
    if int(src.universe().count().to_pyarrow().as_py()) == 0:
        raise ValidationError("profile_id", profile_id, "the id of a known profile")
    finding = _find(definition.condition, "condition", src)
    return Explanation(profile_id=profile_id, member=finding.passed, finding=finding)


def _find(node: object, path: str, src: Sources) -> Finding:
    kind = kind_of(node)
    if isinstance(node, AllOf | AnyOf):
        found = [_find(c, f"{path}.{kind}[{i}]", src) for i, c in enumerate(children(node))]
        passed = all(f.passed for f in found) if kind == "all" else any(f.passed for f in found)
        return Finding(path, kind, describe(node), passed, "", children=found)
    if isinstance(node, NotOf):
        inner = _find(node.not_, f"{path}.not", src)
        return Finding(path, kind, describe(node), not inner.passed, "", children=[inner])
    m = measure(node, src)
    read = src.bind(m.table.mutate(_passes=m.passes(m.table)).select("value", "_passes"))
    rows = read.to_pyarrow()
    if rows.num_rows:
        value, passed = rows.column("value")[0].as_py(), bool(rows.column("_passes")[0].as_py())
    else:
        value, passed = m.absent_value, m.absent_passes
    if isinstance(value, Decimal):
        value = float(value)
    return Finding(path, kind, describe(node), passed, observed(node, value), value)


def _n(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return moment(value)
    return str(value)


def _times(n: Any, word: str = "time") -> str:
    count = int(n or 0)
    return f"{count} {word}{'' if count == 1 else 's'}"


def observed(node: object, value: Any) -> str:
    """What the profile has against what the condition needs, in words."""
    if isinstance(node, EventCondition):
        ev = node.event
        kind = ev.measure()
        window = window_text(ev.within)
        if kind == "count":
            return f"{ev.name}: {_times(value)}{window}, needs {count_text(ev.counted())}"
        if kind in ("sum", "average"):
            test = ev.sum if kind == "sum" else ev.average
            assert test is not None
            from omnichannel.segments.describe import ops_text

            return (
                f"{ev.name}: {kind} of {test.property} {_n(value)}{window}, "
                f"needs {ops_text(test.operators())}"
            )
        span = ev.first_time if kind == "first_time" else ev.last_time
        assert span is not None
        when = "never" if value is None else _n(value)
        bounds = [
            f"{k} {moment(v)}" for k, v in (("after", span.after), ("before", span.before)) if v
        ]
        return f"{ev.name}: {kind.replace('_', ' ')} {when}, needs {' and '.join(bounds)}"
    if isinstance(node, TraitCondition):
        return f"{node.trait.field} is {_n(value)}, needs {describe(node).split(' ', 1)[1]}"
    if isinstance(node, TagCondition):
        return f"tags {value or '[]'}, needs {node.tag!r}"
    if isinstance(node, ConsentCondition):
        return (
            f"consent on {node.consent.channel}: {value or 'unknown'}, needs {node.consent.status}"
        )
    if isinstance(node, SequenceCondition):
        return f"{_times(value)} {describe(node)}, needs at least 1"
    if isinstance(node, OrderCondition):
        o = node.order
        if o.total is not None:
            return f"orders total {_n(value)}{window_text(o.within)}, needs {describe(node)}"
        return f"{_times(value, 'order')}{window_text(o.within)}, needs {o.counted().describe()}"
    if isinstance(node, MessageCondition):
        return f"{_times(value, 'message')} matching, needs {node.message.counted().describe()}"
    if isinstance(node, DeviceCondition):
        within = window_text(node.device.within) if node.device.within else ""
        if value is None:
            return f"no event from such a device, needs one{within}"
        return f"last event from such a device at {_n(value)}, needs one{within}"
    if isinstance(node, SegmentCondition):
        member = bool(value)
        return f"{'a member' if member else 'not a member'} of {node.segment} now"
    return f"observed {_n(value)}"
