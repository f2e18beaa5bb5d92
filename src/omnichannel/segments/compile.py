"""A segment definition as one Ibis expression: the distinct ``profile_id`` of its members.

Every leaf condition becomes a *measure* (``leaves.py``): one row per profile with a
matching fact and the value the condition tests (a count, a sum, a trait), plus whether
a profile without any such fact passes (``at_most: 2`` times does; ``at_least: 1`` does
not). Groups combine member sets: ``all`` intersects its positive children and removes
its negative ones (an anti-join), ``any`` is a union, ``not`` is the known profiles
(``profiles`` and ``profile_identifiers``) minus its child. The engine sees one query.

Example::

    definition = parse_definition(open("vip.yaml").read())
    ids = members(definition, wh, now=datetime.now(UTC)).to_pyarrow()
    print(sql(definition, wh, datetime.now(UTC)))   # what runs, in the engine's dialect
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

import ibis
import ibis.expr.types as ir

from omnichannel.errors import ValidationError
from omnichannel.identity.rules import IdentityRules, load_rules
from omnichannel.segments.definition import (
    AllOf,
    AnyOf,
    NotOf,
    SegmentCondition,
    SegmentDefinition,
    children,
    walk,
)
from omnichannel.segments.leaves import Measure, measure
from omnichannel.segments.sources import EventSource, Sources, where
from omnichannel.warehouse import Warehouse


def members(
    definition: SegmentDefinition,
    wh: Warehouse,
    *,
    now: datetime,
    profile_ids: ir.Table | None = None,
    rules: IdentityRules | None = None,
    event_source: EventSource = "auto",
) -> ir.Table:
    """One column ``profile_id``, distinct: the members as of ``now``.

    ``profile_ids`` (a one-column table) limits the evaluation to those profiles;
    ``rules`` are the installation's identity rules (how events' ids are typed; the
    shipped rules when None); ``event_source`` picks how events reach profiles
    (``sources.py``; ``auto`` uses the build's timeline when it is current).
    """
    src = sources(wh, now=now, profile_ids=profile_ids, rules=rules, event_source=event_source)
    return node_members(definition.condition, src).select("profile_id")


def sources(
    wh: Warehouse,
    *,
    now: datetime,
    profile_ids: ir.Table | None = None,
    rules: IdentityRules | None = None,
    event_source: EventSource = "auto",
) -> Sources:
    return Sources(
        wh=wh,
        now=naive_utc(now),
        rules=rules or default_rules(),
        profile_ids=profile_ids,
        event_source=event_source,
    )


@cache
def default_rules() -> IdentityRules:
    """The shipped identity rules, read once (installations pass their own)."""
    return load_rules()


def naive_utc(now: datetime) -> datetime:
    """The warehouse keeps naive UTC timestamps."""
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def node_members(node: object, src: Sources) -> ir.Table:
    """The members of one node of the condition tree (column ``profile_id``), distinct,
    ready to run (the new events' identifier lookup bound, see ``Sources.bind``)."""
    return src.bind(_members_of(node, src, distinct=True))


def _members_of(node: object, src: Sources, *, distinct: bool) -> ir.Table:
    """``distinct=False``: a profile may come more than once, for a caller that removes
    duplicates anyway (an intersection, a union, the removed side of an anti-join)."""
    if isinstance(node, AnyOf):
        parts = [_members_of(c, src, distinct=False) for c in node.any]
        return ibis.union(*parts, distinct=True) if len(parts) > 1 else _once(parts[0], distinct)
    if isinstance(node, NotOf):
        return without(src.universe(), _members_of(node.not_, src, distinct=False))
    if isinstance(node, AllOf):
        positive = [c for c in node.all if not isinstance(c, NotOf)]
        negative: list[object] = [c.not_ for c in node.all if isinstance(c, NotOf)]
        if len(positive) > 1:
            parts = [_members_of(c, src, distinct=False) for c in positive]
            result = ibis.intersect(*parts, distinct=True)
        elif positive:
            result = _members_of(positive[0], src, distinct=distinct)
        else:
            result = src.universe()
        for child in negative:
            result = without(result, _members_of(child, src, distinct=False))
        return result
    return leaf_members(measure(node, src), src, distinct=distinct)


def leaf_members(m: Measure, src: Sources, *, distinct: bool = True) -> ir.Table:
    if m.absent_passes:
        failing = m.table.filter(~m.passes(m.table))
        return without(src.universe(), failing.select("profile_id"))
    if m.facts is not None:
        return _once(m.facts.select("profile_id"), distinct)
    passing = m.table.filter(where(m.passes(m.table)))
    return passing.select("profile_id")


def _once(t: ir.Table, distinct: bool) -> ir.Table:
    return t.distinct() if distinct else t


def without(kept: ir.Table, removed: ir.Table) -> ir.Table:
    """``kept`` minus the profiles of ``removed`` (an anti-join)."""
    # The view ends the join chain (see ``Sources.only_evaluated``).
    return kept.anti_join(removed, "profile_id").view()


def sql(definition: SegmentDefinition, wh: Warehouse, now: datetime, **options: object) -> str:
    """The SQL ``members`` runs, in the warehouse engine's dialect (``--explain``)."""
    expr = members(definition, wh, now=now, **options)  # type: ignore[arg-type]
    return str(ibis.to_sql(expr, dialect=wh.engine))


def check_references(
    definition: SegmentDefinition, resolve: Callable[[str], SegmentDefinition | None]
) -> None:
    """Refuse a reference to an unknown segment, or a cycle (``a -> b -> a``)."""

    def visit(current: SegmentDefinition, trail: list[str]) -> None:
        for node in walk(current.condition):
            if not isinstance(node, SegmentCondition):
                continue
            name = node.segment
            if name in trail:
                cycle = " -> ".join([*trail[trail.index(name) :], name])
                raise ValidationError("condition.segment", name, f"no cycle ({cycle})")
            found = resolve(name)
            if found is None:
                raise ValidationError("condition.segment", name, "the name of an existing segment")
            visit(found, [*trail, name])

    visit(definition, [definition.name])


__all__ = ["check_references", "children", "members", "node_members", "sql"]
