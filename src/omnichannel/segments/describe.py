"""Conditions in words, for estimates and explanations: ``Order Completed at least 3 times
in the last 30 days``, ``predicted_clv in decile 10``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from omnichannel.segments.definition import (
    AffinityCondition,
    AllOf,
    AnyOf,
    ConsentCondition,
    Count,
    DaysAgo,
    DeviceCondition,
    EventCondition,
    MessageCondition,
    NotOf,
    OrderCondition,
    PropertyTest,
    SegmentCondition,
    SequenceCondition,
    TagCondition,
    TraitCondition,
    ValueTest,
    Window,
)

_SYMBOLS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "equals": "=", "not_equals": "!="}


def moment(value: datetime | DaysAgo) -> str:
    if isinstance(value, DaysAgo):
        return f"{value.days_ago:g} days ago"
    return value.isoformat(sep=" ").removesuffix(" 00:00:00")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def ops_text(ops: dict[str, Any]) -> str:
    """``{gte: 50, lt: 100}`` -> ``>= 50 and < 100``."""
    parts = []
    for op, arg in ops.items():
        if op in _SYMBOLS:
            parts.append(f"{_SYMBOLS[op]} {_value(arg)}")
        elif op in ("in", "not_in"):
            parts.append(f"{op.replace('_', ' ')} {_value(arg)}")
        elif op == "between":
            parts.append(f"between {_value(arg[0])} and {_value(arg[1])}")
        elif op in ("contains", "starts_with"):
            parts.append(f"{op.replace('_', ' ')} {arg!r}")
        elif op in ("after", "before"):
            parts.append(f"{op} {moment(arg)}")
        elif op == "exists":
            parts.append("present" if arg else "absent")
        elif op == "top_percent":
            parts.append(f"in the top {arg:g}%")
        elif op == "decile":
            parts.append(f"in decile {', '.join(str(d) for d in arg)}")
    return " and ".join(parts)


def window_text(within: Window | None) -> str:
    if within is None:
        return " ever"
    if within.last_days is not None:
        return f" in the last {within.last_days:g} days"
    if within.since is not None:
        return f" since {moment(within.since)}"
    assert within.between is not None
    return f" between {moment(within.between[0])} and {moment(within.between[1])}"


def where_text(where: list[PropertyTest]) -> str:
    if not where:
        return ""
    return " (" + ", ".join(f"{w.property} {ops_text(w.operators())}" for w in where) + ")"


def count_text(count: Count) -> str:
    text = count.describe()
    low, high = count.range()
    return f"{text} time" + ("" if (high if high is not None else low) == 1 else "s")


def gap_text(gap: timedelta) -> str:
    hours = gap.total_seconds() / 3600
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:g} days"
    return f"{hours:g} hours" if hours >= 1 else f"{gap.total_seconds() / 60:g} minutes"


def describe(node: object) -> str:
    """One line for a condition (groups name their children's count)."""
    if isinstance(node, AllOf):
        return f"all of {len(node.all)} conditions"
    if isinstance(node, AnyOf):
        return f"any of {len(node.any)} conditions"
    if isinstance(node, NotOf):
        return f"not ({describe(node.not_)})"
    if isinstance(node, TraitCondition):
        return f"{node.trait.field} {ops_text(node.trait.operators())}"
    if isinstance(node, TagCondition):
        return f"tagged {node.tag!r}"
    if isinstance(node, ConsentCondition):
        return f"consent on {node.consent.channel} is {node.consent.status}"
    if isinstance(node, AffinityCondition):
        a = node.affinity
        what = f"category {a.category}" if a.category is not None else f"content {a.content_type}"
        return f"affinity for {what} >= {a.at_least:g}"
    if isinstance(node, EventCondition):
        return _event_text(node)
    if isinstance(node, SequenceCondition):
        s = node.sequence
        return (
            f"{s.first.name}{where_text(s.first.where)} then {s.then.name}"
            f"{where_text(s.then.where)} within {gap_text(s.max_gap.delta())}"
            f"{window_text(s.within)}"
        )
    if isinstance(node, OrderCondition):
        o = node.order
        where = f" in {', '.join(o.channel)}" if o.channel else ""
        if o.total is not None:
            return f"orders{where} totalling {ops_text(o.total.operators())}{window_text(o.within)}"
        return f"{o.counted().describe()} orders{where}{window_text(o.within)}"
    if isinstance(node, MessageCondition):
        m = node.message
        what = (
            f" {m.keyword!r}"
            if m.keyword
            else (f" containing {m.contains!r}" if m.contains else "")
        )
        via = f" on {', '.join(m.channel)}" if m.channel else ""
        return f"sent us{what}{via} {count_text(m.counted())}{window_text(m.within)}"
    if isinstance(node, DeviceCondition):
        d = node.device
        parts = [
            f"{name} {ops_text(test.operators())}"
            for name in ("os_name", "device_type", "app_name", "app_version")
            if isinstance(test := getattr(d, name), ValueTest)
        ]
        if d.push_token:
            parts.append("with a push token")
        return f"a device {', '.join(parts)}{window_text(d.within) if d.within else ''}"
    if isinstance(node, SegmentCondition):
        return f"member of {node.segment}"
    return type(node).__name__


def _event_text(node: EventCondition) -> str:
    ev = node.event
    head = ev.name + where_text(ev.where) + (f" on {', '.join(ev.channel)}" if ev.channel else "")
    kind = ev.measure()
    if kind == "count":
        return f"{head} {count_text(ev.counted())}{window_text(ev.within)}"
    if kind in ("sum", "average"):
        test = ev.sum if kind == "sum" else ev.average
        assert test is not None
        needs = ops_text(test.operators())
        return f"{head}: {kind} of {test.property} {needs}{window_text(ev.within)}"
    span = ev.first_time if kind == "first_time" else ev.last_time
    assert span is not None
    bounds = ops_text({k: v for k, v in (("after", span.after), ("before", span.before)) if v})
    return f"{head}: {kind.replace('_', ' ')} {bounds}"
