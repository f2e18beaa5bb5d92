"""``platform.funnels``: the funnel query runner (validate, build the Ibis expression, run).

Example::

    with Platform.open("omni-home") as platform:
        result = platform.funnels.run(
            {"steps": ["Product Viewed", "Product Added", {"order": {}}], "window": "7d"},
            by=["channel"],
        )
        for step in result["overall"]["steps"]:
            print(step["name"], step["entered"], step["conversion_from_first"])
        platform.funnels.marketing(since=datetime(2026, 3, 1))
        platform.funnels.dropoff(definition, step=2, save_segment="left-at-cart")

Nothing is cached: each run reads the warehouse as it is, so events loaded a moment ago
count in the next query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from omnichannel.analytics.funnels.definition import (
    DIMENSIONS,
    PAGE_EVENTS,
    FunnelDefinition,
    Match,
    parse_funnel,
)
from omnichannel.analytics.funnels.presets import marketing_funnel
from omnichannel.analytics.funnels.query import entries, step_tables, summary
from omnichannel.analytics.funnels.stream import (
    StreamSpec,
    dimension_column,
    span_of,
    step_stream,
)
from omnichannel.errors import ValidationError
from omnichannel.identity.rules import IdentityRules
from omnichannel.warehouse import Warehouse

if TYPE_CHECKING:
    from omnichannel.platform import Platform

Document = Mapping[str, Any] | str | FunnelDefinition
MAX_DROPOFF_LIST = 100_000


@dataclass(frozen=True)
class FunnelQuery:
    """A validated funnel and its expressions, before anything runs."""

    definition: FunnelDefinition
    tables: list[ir.Table]  # per step: person, d_<dimension>..., t0, prev, t
    columns: dict[str, str]  # dimension -> its column

    @property
    def steps(self) -> int:
        return len(self.definition.steps)

    @property
    def per_entry(self) -> ir.Table:
        """``person, d_<dimension>..., t0..t{K-1}``: one row per entry."""
        return entries(self.tables, list(self.columns.values()))

    def summary(self) -> ir.Table:
        return summary(self.tables, list(self.columns.values()))


def _names_of(m: Match) -> set[str]:
    return {PAGE_EVENTS.get(n, n) + ("\x00" if n in PAGE_EVENTS else "") for n in m.event or ()}


def can_match_both(a: Sequence[Match], b: Sequence[Match]) -> bool:
    """Whether one fact can match a step of alternatives ``a`` and one of ``b``: only
    two event matches sharing a name, two message matches sharing a status, or two order
    matches (filters are not compared: they only narrow) can."""
    for x in a:
        for y in b:
            if x.source != y.source:
                continue
            if x.source == "order":
                return True
            if x.source == "event" and _names_of(x) & _names_of(y):
                return True
            if x.message and y.message and set(x.message.status) & set(y.message.status):
                return True
    return False


def build(wh: Warehouse, rules: IdentityRules, definition: FunnelDefinition) -> FunnelQuery:
    """The Ibis expressions of ``definition`` over ``wh`` (nothing runs yet)."""
    row_dims = [d for d in definition.by if d.partition(":")[0] in (*DIMENSIONS, "property")]
    segments = [d for d in definition.by if d.startswith("segment:")]
    start, end = span_of(definition.since, definition.until, definition.window)
    spec = StreamSpec(
        steps=[s.matches for s in definition.steps],
        start=start,
        end=end,
        dimensions=row_dims,
        every_row=definition.order == "strict",
        now=datetime.now(),
    )
    stream = step_stream(wh, rules, spec)
    matches = [s.matches for s in definition.steps]
    tables = step_tables(
        stream,
        steps=len(definition.steps),
        order=definition.order,
        window_seconds=definition.window_seconds,
        since=definition.since,
        until=definition.until,
        dimensions=[dimension_column(d) for d in row_dims],
        per_breakdown=definition.entry == "breakdown",
        overlaps=[can_match_both(a, b) for a, b in pairwise(matches)],
    )
    for dim in segments:
        tables = [_with_segment(wh, t, dim) for t in tables]
    columns = {d: dimension_column(d) for d in definition.by}
    return FunnelQuery(definition, tables, columns)


def _with_segment(wh: Warehouse, t: ir.Table, dim: str) -> ir.Table:
    name = dim.partition(":")[2]
    sm = wh.table("segment_memberships")
    members = (
        sm.filter(sm.segment == name, sm.exited_at.isnull()).select(member="profile_id").distinct()
    )
    j = t.left_join(members, t.person == members.member)
    label = ibis.cases((j.member.notnull(), ibis.literal(name)), else_=ibis.literal(f"not {name}"))
    return j.mutate(**{dimension_column(dim): label}).drop("member")


def report(query: FunnelQuery, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer every face gives (docs/funnels.md, "Results")."""
    d = query.definition
    names = [s.name for s in d.steps]
    overall = next((r for r in rows if r.get("_all", True)), None)
    result: dict[str, Any] = {
        "funnel": d.name,
        "order": d.order,
        "window_seconds": d.window_seconds,
        "since": d.since,
        "until": d.until,
        "by": list(d.by),
        "entry": d.entry,
        "step_names": names,
        "overall": {"steps": _steps(overall, names)},
        "breakdown": [],
    }
    if d.by:
        groups = [r for r in rows if not r.get("_all", True)]
        groups.sort(
            key=lambda r: (-int(r["entered_0"] or 0), [str(r[c]) for c in query.columns.values()])
        )
        result["breakdown"] = [
            {
                "values": {dim: r[col] for dim, col in query.columns.items()},
                "steps": _steps(r, names),
            }
            for r in groups
        ]
    return result


def _steps(row: Mapping[str, Any] | None, names: Sequence[str]) -> list[dict[str, Any]]:
    counts = [int((row or {}).get(f"entered_{i}") or 0) for i in range(len(names))]
    out = []
    for i, name in enumerate(names):
        entered = counts[i]
        previous = counts[i - 1] if i else entered
        nxt = counts[i + 1] if i + 1 < len(names) else None
        out.append(
            {
                "step": i + 1,
                "name": name,
                "entered": entered,
                "conversion_from_previous": _rate(entered, previous)
                if i
                else 1.0
                if entered
                else 0.0,
                "conversion_from_first": _rate(entered, counts[0]),
                "dropped_off": None if nxt is None else entered - nxt,
                "median_seconds_from_previous": _seconds(row, f"median_{i}") if i else None,
                "p90_seconds_from_previous": _seconds(row, f"p90_{i}") if i else None,
            }
        )
    return out


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _seconds(row: Mapping[str, Any] | None, key: str) -> float | None:
    value = (row or {}).get(key)
    return None if value is None else round(float(value), 3)


class FunnelsCapability:
    """Funnels over the warehouse: run a definition, the marketing preset, drop-off lists."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def definition(self, doc: Document, **overrides: Any) -> FunnelDefinition:
        """``doc`` validated, with ``overrides`` (window, order, since, until, by) applied."""
        return parse_funnel(doc, **overrides)

    def run(self, doc: Document, **overrides: Any) -> dict[str, Any]:
        """Per step: entered, conversion from the previous and the first step, drop-off,
        median and p90 time from the previous step; overall and per breakdown value."""
        definition = parse_funnel(doc, **overrides)
        with self._platform.warehouse.reader() as wh:
            query = build(wh, self._platform.config.rules, definition)
            rows = query.summary().to_pyarrow().to_pylist()
        return report(query, rows)

    def marketing(self, **overrides: Any) -> dict[str, Any]:
        """Exposure > click > visit > purchase (online or in store), per campaign and channel."""
        return self.run(marketing_funnel(), **overrides)

    def sql(self, doc: Document, *, dialect: str | None = None, **overrides: Any) -> str:
        """The compiled SQL of the per-step summary (the warehouse's dialect by default)."""
        definition = parse_funnel(doc, **overrides)
        with self._platform.warehouse.reader() as wh:
            query = build(wh, self._platform.config.rules, definition)
            return str(ibis.to_sql(query.summary(), dialect=dialect or wh.con.name))

    def dropoff(
        self,
        doc: Document,
        *,
        step: int,
        save_segment: str | None = None,
        limit: int = 1000,
        actor: str = "system",
        **overrides: Any,
    ) -> dict[str, Any]:
        """The people who reached ``step`` (1-based) and not the next one.

        ``save_segment``: saved as a segment matching exactly those people (a ``trait``
        condition on ``profile_id``; docs/funnels.md "Drop-off lists").
        """
        definition = parse_funnel(doc, **overrides)
        k = len(definition.steps)
        if not isinstance(step, int) or isinstance(step, bool) or not 1 <= step < k:
            raise ValidationError("step", step, f"a step from 1 to {k - 1} (the last has no next)")
        if not 1 <= limit <= MAX_DROPOFF_LIST:
            raise ValidationError("limit", limit, f"1 to {MAX_DROPOFF_LIST}")
        with self._platform.warehouse.reader() as wh:
            query = build(wh, self._platform.config.rules, definition)
            t = query.per_entry
            left = t.filter(t[f"t{step - 1}"].notnull(), t[f"t{step}"].isnull())
            people = left.group_by("person").agg(reached_at=left[f"t{step - 1}"].min())
            total = int(people.count().to_pyarrow().as_py())
            if save_segment is not None and total > MAX_DROPOFF_LIST:
                raise ValidationError(
                    "save_segment",
                    save_segment,
                    f"a drop-off of at most {MAX_DROPOFF_LIST:,} people to save as a list "
                    f"(this one has {total:,}: narrow the date range or add a filter)",
                )
            listed = people.order_by(["reached_at", "person"]).limit(
                max(limit, total if save_segment else limit)
            )
            rows = listed.to_pyarrow().to_pylist()
        result: dict[str, Any] = {
            "funnel": definition.name,
            "step": step,
            "step_name": definition.steps[step - 1].name,
            "next_step_name": definition.steps[step].name,
            "people": total,
            "listed": [
                {"person": r["person"], "reached_at": r["reached_at"]} for r in rows[:limit]
            ],
            "segment": None,
        }
        if save_segment is not None:
            result["segment"] = self._save(
                save_segment, definition, step, [r["person"] for r in rows], actor
            )
        return result

    def _save(
        self, name: str, definition: FunnelDefinition, step: int, people: list[str], actor: str
    ) -> dict[str, Any]:
        profiles = sorted(p for p in people if ":" not in p)
        if not profiles:
            raise ValidationError(
                "save_segment", name, "a drop-off with at least one resolved person to save"
            )
        doc = {
            "name": name,
            "description": (
                f"Reached step {step} ({definition.steps[step - 1].name}) of funnel "
                f"{definition.name!r} and not step {step + 1} "
                f"({definition.steps[step].name}) within {definition.window}; "
                f"{len(profiles)} people as of {datetime.now().isoformat(timespec='seconds')}"
            ),
            "condition": {"trait": {"field": "profile_id", "in": profiles}},
        }
        segments = self._platform.segments
        if segments.store.get(name) is not None:
            saved = segments.update(name, doc, actor=actor)
        else:
            saved = segments.create(doc, created_by=actor)
        return {"name": name, "members": saved.get("members"), "version": saved.get("version")}
