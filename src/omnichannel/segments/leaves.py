"""Leaf conditions as measures: per profile, the value a condition tests, and the test.

A ``Measure`` is a table with one row per profile that has a matching fact (``profile_id``,
``value``: a count, a sum, a trait...), a predicate on that table, and whether a profile
with no row passes (``at_most: 2`` times does, a trait test does not). ``compile.py``
turns measures into member sets; ``explain.py`` reads the same measure for one profile
to say what was observed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import ibis
import ibis.expr.types as ir

from omnichannel.profiles.traits.base import DEVICE_FIELDS
from omnichannel.segments.definition import (
    MESSAGE_EVENT,
    AffinityCondition,
    ConsentCondition,
    DeviceCondition,
    EventCondition,
    MessageCondition,
    OrderCondition,
    PropertyTest,
    SegmentCondition,
    SequenceCondition,
    TagCondition,
    TraitCondition,
    TraitTest,
    ValueTest,
    Window,
    resolve_moment,
    shifted,
)
from omnichannel.segments.sources import Moment, Sources, timestamp
from omnichannel.warehouse import Warehouse


@dataclass(frozen=True)
class Measure:
    table: ir.Table  # profile_id, value (+ whatever ``passes`` reads)
    passes: Callable[[ir.Table], ir.BooleanValue]
    absent_passes: bool
    absent_value: Any = None  # what "no row" means, for explanations (0 times)
    # When any one fact passes ("at least once", "a device like this"): the facts, one or
    # more rows per profile. The compiler takes their profile ids as they are and leaves
    # removing duplicates to the intersection or union above, instead of grouping every
    # fact per profile first (half a second per condition at a million profiles).
    facts: ir.Table | None = None


def measure(node: object, src: Sources) -> Measure:
    kind = type(node).__name__
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise TypeError(f"not a leaf condition: {kind}")
    return builder(node, src)


# --- value tests ---


def value_predicate(
    test: ValueTest, value: ir.Value, now: Moment, *, is_list: bool = False
) -> ir.BooleanValue:
    """Every operator of ``test`` on ``value``, ANDed; NULL counts as failing."""
    parts = [_operator(op, arg, value, now, is_list) for op, arg in test.operators().items()]
    return ibis.and_(*parts).coalesce(False)


def _operator(op: str, arg: Any, v: Any, now: Moment, is_list: bool) -> ir.BooleanValue:
    if op == "exists":
        return v.notnull() if arg else v.isnull()
    if op == "equals":
        return v == arg
    if op == "not_equals":
        return v != arg
    if op == "in":
        return v.isin(list(arg))
    if op == "not_in":
        return v.notin(list(arg))
    if op in ("gt", "gte", "lt", "lte"):
        return {"gt": v > arg, "gte": v >= arg, "lt": v < arg, "lte": v <= arg}[op]
    if op == "between":
        return v.between(arg[0], arg[1])
    if op == "contains":
        if is_list:
            # Lists are JSON arrays of strings (``["web","store"]``): look for the element.
            needle = '"' + str(arg).replace("\\", "\\\\").replace('"', '\\"') + '"'
            return v.contains(needle)
        return v.lower().contains(str(arg).lower())
    if op == "starts_with":
        return v.startswith(str(arg))
    if op in ("after", "before"):
        at = timestamp(resolve_moment(arg, now))
        return v >= at if op == "after" else v < at
    raise ValueError(f"unknown operator {op}")


def python_passes(test: ValueTest, value: float) -> bool:
    """The numeric operators of ``test`` on a Python number (a sum over no rows is 0)."""
    checks = {
        "equals": lambda a: value == a,
        "not_equals": lambda a: value != a,
        "in": lambda a: value in a,
        "not_in": lambda a: value not in a,
        "gt": lambda a: value > a,
        "gte": lambda a: value >= a,
        "lt": lambda a: value < a,
        "lte": lambda a: value <= a,
        "between": lambda a: a[0] <= value <= a[1],
        "exists": lambda a: bool(a),
    }
    return all(checks[op](arg) for op, arg in test.operators().items())


def json_path(text: ir.StringValue, path: str) -> Any:
    j: Any = text.cast("json")
    for key in path.split("."):
        j = j[key]
    return j


def property_predicate(props: ir.StringValue, test: PropertyTest, now: Moment) -> ir.BooleanValue:
    """A property filter: each operator reads the property as its operand's type."""
    j = json_path(props, test.property)
    parts = []
    for op, arg in test.operators().items():
        if op == "exists":
            parts.append(j.notnull() if arg else j.isnull())
            continue
        sample = arg[0] if op in ("in", "not_in", "between") else arg
        if op in ("after", "before"):
            v = j.str.cast("timestamp")
        elif isinstance(sample, bool):
            v = j.bool
        elif isinstance(sample, int | float):
            v = j.float
        else:
            v = j.str
        parts.append(_operator(op, arg, v, now, False))
    return ibis.and_(*parts).coalesce(False)


def _window(within: Window | None, now: ir.TimestampValue) -> tuple[Moment | None, Moment | None]:
    return within.bounds(now) if within is not None else (None, None)


# --- profile conditions ---


def _trait(node: TraitCondition, src: Sources) -> Measure:
    test: TraitTest = node.trait
    p = src.profiles()
    col = p[test.field]
    from omnichannel.segments.definition import LIST_TRAITS

    t = p.select("profile_id", value=col)
    if test.top_percent is not None or test.decile is not None:
        t = t.filter(t.value.notnull())
        t = t.mutate(
            top_rank=ibis.percent_rank().over(order_by=ibis.desc(t.value)),
            decile=ibis.least(
                (ibis.percent_rank().over(order_by=t.value) * 10 + 1e-9).floor() + 1, 10
            ).cast("int32"),
        )
    t = src.only_evaluated(t)
    plain = ValueTest.model_construct(
        **{k: getattr(test, k) for k in type(test).model_fields if k in ValueTest.model_fields}
    )

    def passes(r: ir.Table) -> ir.BooleanValue:
        parts = []
        if plain.operators():
            parts.append(
                value_predicate(plain, r.value, src.clock, is_list=test.field in LIST_TRAITS)
            )
        if test.top_percent is not None:
            parts.append(r.top_rank < test.top_percent / 100)
        if test.decile is not None:
            parts.append(r.decile.isin(test.decile))
        return ibis.and_(*parts).coalesce(False)

    return Measure(t, passes, absent_passes=False)


def _tag(node: TagCondition, src: Sources) -> Measure:
    p = src.only_evaluated(src.profiles().select("profile_id", value="tags"))
    needle = '"' + node.tag.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return Measure(p, lambda r: r.value.contains(needle).coalesce(False), absent_passes=False)


def _consent(node: ConsentCondition, src: Sources) -> Measure:
    p = src.profiles()
    status = p.consent.cast("json")[node.consent.channel].str
    t = src.only_evaluated(p.select("profile_id", value=status))
    wanted = node.consent.status
    if wanted == "unknown":
        return Measure(t, lambda r: r.value.isnull(), absent_passes=False)
    return Measure(t, lambda r: (r.value == wanted).coalesce(False), absent_passes=False)


def _affinity(node: AffinityCondition, src: Sources) -> Measure:
    a = node.affinity
    kind, value = (
        ("category", a.category) if a.category is not None else ("content_type", a.content_type)
    )
    t = src.affinities(kind, str(value))
    return Measure(t, lambda r: r.value >= a.at_least, absent_passes=False, absent_value=0.0)


def _segment(node: SegmentCondition, src: Sources) -> Measure:
    from omnichannel.segments.membership import current_members

    t = src.only_evaluated(
        current_members(cast(Warehouse, src.tables), node.segment).mutate(value=ibis.literal(1))
    )
    return Measure(t, lambda r: r.value == 1, absent_passes=False, absent_value=0)


# --- behaviour ---


def _filtered_events(
    src: Sources,
    name: str,
    where: list[PropertyTest],
    channel: list[str] | None,
    within: Window | None,
    columns: tuple[str, ...] = (),
) -> ir.Table:
    """The named events passing the filters, with ``profile_id`` and ``columns``."""
    start, end = _window(within, src.clock)
    read = {*columns, *(["channel"] if channel else []), *(["properties"] if where else [])}
    e = src.events([name], start, end, columns=tuple(read))
    if channel:
        e = e.filter(e.channel.isin(channel))
    for test in where:
        e = e.filter(property_predicate(e.properties, test, src.clock))
    return e


def _count_measure(rows: ir.Table, low: int, high: int | None) -> Measure:
    """A count of ``rows`` (facts with ``profile_id``) per profile, between low and high."""

    def passes(r: ir.Table) -> ir.BooleanValue:
        ok = r.value >= low
        return ok & (r.value <= high) if high is not None else ok

    per_profile = rows.group_by("profile_id").agg(value=rows.count())
    once = rows if (low, high) == (1, None) else None
    return Measure(per_profile, passes, absent_passes=low == 0, absent_value=0, facts=once)


def _event(node: EventCondition, src: Sources) -> Measure:
    ev = node.event
    kind = ev.measure()
    reads = {"count": (), "sum": ("properties",), "average": ("properties",)}
    e = _filtered_events(src, ev.name, ev.where, ev.channel, ev.within, reads.get(kind, ("ts",)))
    if kind == "count":
        low, high = ev.counted().range()
        return _count_measure(e, low, high)
    if kind in ("sum", "average"):
        test = ev.sum if kind == "sum" else ev.average
        assert test is not None
        amount = json_path(e.properties, test.property).float
        agg = amount.sum() if kind == "sum" else amount.mean()
        t = e.group_by("profile_id").agg(value=agg.cast("float64"))
        plain = ValueTest.model_construct(**{k: getattr(test, k) for k in ValueTest.model_fields})
        absent = kind == "sum" and python_passes(plain, 0.0)
        return Measure(
            t,
            lambda r: value_predicate(plain, r.value, src.clock),
            absent_passes=absent,
            absent_value=0.0 if kind == "sum" else None,
        )
    span = ev.first_time if kind == "first_time" else ev.last_time
    assert span is not None
    t = e.group_by("profile_id").agg(value=e.ts.min() if kind == "first_time" else e.ts.max())
    bounds = ValueTest.model_construct(after=span.after, before=span.before)
    return Measure(t, lambda r: value_predicate(bounds, r.value, src.clock), absent_passes=False)


def _sequence(node: SequenceCondition, src: Sources) -> Measure:
    seq = node.sequence
    gap = seq.max_gap.delta()
    a = _filtered_events(src, seq.first.name, seq.first.where, None, seq.within, ("ts",))
    start, end = _window(seq.within, src.clock)
    then = ("ts", "properties") if seq.then.where else ("ts",)
    b = src.events([seq.then.name], start, shifted(end, gap) if end is not None else None, then)
    for test in seq.then.where:
        b = b.filter(property_predicate(b.properties, test, src.clock))
    a = a.select(profile_id="profile_id", a_ts="ts")
    b = b.select(b_profile="profile_id", b_ts="ts")
    pairs = a.join(
        b,
        [
            a.profile_id == b.b_profile,
            b.b_ts >= a.a_ts,
            b.b_ts <= a.a_ts + ibis.interval(seconds=int(gap.total_seconds())),
        ],
    )
    t = pairs.group_by("profile_id").agg(value=pairs.count())
    return Measure(t, lambda r: r.value >= 1, absent_passes=False, absent_value=0)


def _order(node: OrderCondition, src: Sources) -> Measure:
    o = node.order
    start, end = _window(o.within, src.clock)
    rows = src.orders(start, end)
    if o.channel:
        rows = rows.filter(rows.channel.lower().isin([c.lower() for c in o.channel]))
    if o.store_id:
        rows = rows.filter(rows.store_id.isin(o.store_id))
    if o.total is not None:
        total = o.total
        t = rows.group_by("profile_id").agg(value=rows.total.sum().cast("float64"))
        return Measure(
            t,
            lambda r: value_predicate(total, r.value, src.clock),
            absent_passes=python_passes(total, 0.0),
            absent_value=0.0,
        )
    low, high = o.counted().range()
    return _count_measure(rows, low, high)


def _message(node: MessageCondition, src: Sources) -> Measure:
    m = node.message
    start, end = _window(m.within, src.clock)
    e = src.events([MESSAGE_EVENT], start, end, ("channel", "properties"))
    props = e.properties
    if m.channel:
        via = json_path(props, "channel").str.coalesce(e.channel).lower()
        e = e.filter(via.isin([c.lower() for c in m.channel]))
    text = json_path(e.properties, "text").str
    if m.keyword is not None:
        e = e.filter((text.strip().lower() == m.keyword.strip().lower()).coalesce(False))
    if m.contains is not None:
        e = e.filter(text.lower().contains(m.contains.lower()).coalesce(False))
    low, high = m.counted().range()
    return _count_measure(e, low, high)


def _device(node: DeviceCondition, src: Sources) -> Measure:
    """The last time an event came from a matching device (in the window, if given)."""
    d = node.device
    start, end = _window(d.within, src.clock)

    def matches(cols: dict[str, ir.Value]) -> ir.BooleanValue:
        parts = [
            value_predicate(test, cols[name], src.clock)
            for name in DEVICE_FIELDS
            if (test := getattr(d, name)) is not None
        ]
        if d.push_token:
            parts.append(cols["push_token"])
        return ibis.and_(*parts)

    seen = src.device_seen(start, end, matches)
    t = seen.group_by("profile_id").agg(value=seen.last_seen.max())
    return Measure(t, lambda r: r.value.notnull(), absent_passes=False, facts=seen)


_BUILDERS: dict[str, Callable[[Any, Sources], Measure]] = {
    "TraitCondition": _trait,
    "TagCondition": _tag,
    "ConsentCondition": _consent,
    "AffinityCondition": _affinity,
    "SegmentCondition": _segment,
    "EventCondition": _event,
    "SequenceCondition": _sequence,
    "OrderCondition": _order,
    "MessageCondition": _message,
    "DeviceCondition": _device,
}
