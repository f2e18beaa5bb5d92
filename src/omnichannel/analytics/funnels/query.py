"""The funnel's Ibis expressions: each entry's step times, and their summary.

``step_tables`` gives, per step k, one row per entry (a person, or a person and breakdown
value) that reached it: ``person, <dimensions>, t0, prev, t`` (when it entered, reached
step k-1 and step k); the summary counts and times each table on its own, so the
answer needs no join of the steps back together. ``entries`` gives one row per entry
with ``t0..t{K-1}`` (NULL: not reached), for drop-off lists. Every mode starts at the
**first entry**: the person's first step-1 event in ``[since, until)`` (``any``: their
first event of any step), and the window runs from it.

- ``ordered``: step k is the first step-k event after step k-1's (the greedy earliest
  chain: if any chain of events in order fits the window, this one does). Per step, that
  step's rows only (the stream is read once, filtered to the steps) joined to the entries
  that reached the step before, grouped by entry and the step before's time, and their
  minimum: the hand-written step-by-step SQL's shape (a window per step over every row
  was 2-3x slower on DuckDB, and a per-person list of step times 1.3x).
- ``strict``: step k is the very next fact of the person after step k-1's (no other
  event, order or message in between): ``lead(k)`` over the person's facts in time.
- ``any``: the k-th distinct step done, in whatever order; t_k is when the (k+1)-th
  distinct step first happened.

A fact at the same moment as step k-1's that also matches step k-1 does not count for
step k (one event is one step). When no fact can match both steps (``overlaps`` false:
two event steps of different names, an event and an order...), that test is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir

from omnichannel.analytics.funnels.stream import flag_names


def _in_range(t: ir.Table, since: datetime | None, until: datetime | None) -> ir.BooleanValue:
    preds: list[ir.BooleanValue] = [ibis.literal(True)]
    if since is not None:
        preds.append(t.ts >= since)
    if until is not None:
        preds.append(t.ts < until)
    return ibis.and_(*preds)


def step_tables(
    stream: ir.Table,
    *,
    steps: int,
    order: str,
    window_seconds: int,
    since: datetime | None,
    until: datetime | None,
    dimensions: Sequence[str] = (),
    per_breakdown: bool = False,
    overlaps: Sequence[bool] | None = None,
) -> list[ir.Table]:
    """Per step, ``person, <dimensions>, t0, prev, t``: one row per entry that reached it
    (``overlaps[k-1]``: whether one fact can match steps k-1 and k; default yes)."""
    dims = list(dimensions)
    if order == "ordered":
        same = list(overlaps) if overlaps is not None else [True] * (steps - 1)
        return _ordered(stream, steps, window_seconds, since, until, dims, per_breakdown, same)
    build = {"strict": _strict, "any": _any_order}[order]
    per = build(stream, steps, window_seconds, since, until, dims, per_breakdown)
    return [
        per.filter(per[f"t{i}"].notnull()).select(
            "person", *dims, t0=per.t0, prev=per[f"t{max(i - 1, 0)}"], t=per[f"t{i}"]
        )
        for i in range(steps)
    ]


def entries(tables: Sequence[ir.Table], dimensions: Sequence[str] = ()) -> ir.Table:
    """``person, <dimensions>, t0..t{K-1}``: one row per entry, from ``step_tables``."""
    dims = list(dimensions)
    first = tables[0]
    out = first.select("person", *dims, "t0")
    for i, part in enumerate(tables[1:], start=1):
        part = part.select(p_person="person", **{f"p_{d}": part[d] for d in dims}, t=part.t)
        # A breakdown value may be NULL: keys compare NULL-safely.
        same = [out.person == part.p_person] + [out[d].identical_to(part[f"p_{d}"]) for d in dims]
        joined = out.left_join(part, same)
        out = joined.select(*[joined[c] for c in out.columns], **{f"t{i}": joined.t})
    return out


def _entry_keys(
    s: ir.Table,
    first: ir.BooleanValue,
    since: datetime | None,
    until: datetime | None,
    dims: list[str],
    per_breakdown: bool,
) -> tuple[ir.Table, list[str]]:
    """The first entry time ``t0`` per entry key (``e_person`` [, ``e_<dim>``])."""
    key = {"e_person": s.person, **({f"e_{d}": s[d] for d in dims} if per_breakdown else {})}
    entered = s.filter(first, _in_range(s, since, until))
    firsts = entered.group_by(**key).agg(t0=entered.ts.min())
    return firsts, list(key)


def _ordered(
    s: ir.Table,
    k: int,
    window_seconds: int,
    since: datetime | None,
    until: datetime | None,
    dims: list[str],
    per_breakdown: bool,
    overlaps: list[bool],
) -> list[ir.Table]:
    m = flag_names(k)
    firsts, key = _entry_keys(s, s.m0, since, until, dims, per_breakdown)
    carry = list(key)
    if dims and not per_breakdown:
        # The breakdown of the entry: the value on the row that entered.
        at_entry = s.join(firsts, [s.person == firsts.e_person, s.ts == firsts.t0])
        at_entry = at_entry.filter(at_entry.m0)
        values = at_entry.group_by("e_person").agg(**{d: at_entry[d].min() for d in dims})
        firsts = firsts.join(values, "e_person")
        carry += dims
    end = ibis.interval(seconds=window_seconds)
    reached = firsts.select(*carry, t0=firsts.t0, t=firsts.t0)
    found = [reached.mutate(prev=reached.t0)]
    for i in range(1, k):
        # Step i's rows only, joined to the entries that reached step i-1: the first one
        # after step i-1's time (at the same moment only if it is not itself step i-1's).
        rows = s.filter(s[m[i]]).select(r_person="person", r_ts="ts", r_same=s[m[i - 1]])
        j = rows.join(reached, rows.r_person == reached.e_person)
        later = j.r_ts >= j.t
        if overlaps[i - 1]:
            later = (j.r_ts > j.t) | ((j.r_ts == j.t) & ~j.r_same)
        j = j.filter(later, j.r_ts <= j.t0 + end)
        step = j.group_by([*carry, "t0", "t"]).agg(next=j.r_ts.min())
        found.append(step.select(*carry, "t0", prev=step.t, t=step.next))
        reached = step.select(*carry, "t0", t=step.next)
    return [
        t.select(
            person=t.e_person,
            **{d: t[f"e_{d}"] if per_breakdown else t[d] for d in dims},
            t0=t.t0,
            prev=t.prev,
            t=t.t,
        )
        for t in found
    ]


def _one_per_entry(
    j: ir.Table,
    k: int,
    key: list[str],
    dims: list[str],
    per_breakdown: bool,
    at_entry: ir.BooleanValue,
) -> ir.Table:
    times = {f"t{i}": j[f"t{i}"].max() for i in range(k)}
    if per_breakdown:
        values = {d: j[f"e_{d}"].min() for d in dims}
    else:
        # The breakdown of the entry: the value on the row that entered.
        values = {d: j[d].min(where=at_entry) for d in dims}
    out = j.group_by(key).agg(**values, **times)
    return out.select(
        person=out.e_person, **{d: out[d] for d in dims}, **{t: out[t] for t in times}
    )


def _strict(
    s: ir.Table,
    k: int,
    window_seconds: int,
    since: datetime | None,
    until: datetime | None,
    dims: list[str],
    per_breakdown: bool,
) -> ir.Table:
    m = flag_names(k)
    in_time = ibis.window(group_by="person", order_by=[s.ts, *[ibis.desc(s[f]) for f in m]])
    nexts = {f"n_ts{i}": s.ts.lead(i).over(in_time) for i in range(1, k)}
    nexts |= {f"n_m{i}": s[m[i]].lead(i).over(in_time) for i in range(1, k)}
    s = s.mutate(**nexts)
    entered = s.filter(s.m0, _in_range(s, since, until))
    key = ["person", *(dims if per_breakdown else [])]
    first = ibis.window(group_by=key, order_by=[entered.ts])
    entered = entered.mutate(_n=ibis.row_number().over(first))
    e = entered.filter(entered._n == 0)
    end = e.ts + ibis.interval(seconds=window_seconds)
    times: dict[str, ir.Value] = {"t0": e.ts}
    ok: ir.BooleanValue = ibis.literal(True)
    for i in range(1, k):
        ok = ok & e[f"n_m{i}"].coalesce(False) & (e[f"n_ts{i}"] <= end)
        times[f"t{i}"] = ibis.cases((ok, e[f"n_ts{i}"]), else_=ibis.null("timestamp"))
    return e.select(person=e.person, **{d: e[d] for d in dims}, **times)


def _any_order(
    s: ir.Table,
    k: int,
    window_seconds: int,
    since: datetime | None,
    until: datetime | None,
    dims: list[str],
    per_breakdown: bool,
) -> ir.Table:
    m = flag_names(k)
    some = ibis.or_(*[s[f] for f in m])
    firsts, key = _entry_keys(s, some, since, until, dims, per_breakdown)
    j = s.join(firsts, s.person == firsts.e_person)
    j = j.filter(j.ts >= j.t0, j.ts <= j.t0 + ibis.interval(seconds=window_seconds))
    at_entry = (j.ts == j.t0) & ibis.or_(*[j[f] for f in m])
    if per_breakdown:
        values = {d: j[f"e_{d}"].min() for d in dims}
    else:
        values = {d: j[d].min(where=at_entry) for d in dims}
    firsts_of = {f"f{i}": j.ts.min(where=j[m[i]]) for i in range(k)}
    per = j.group_by(key).agg(**values, **firsts_of)
    f = [per[f"f{i}"] for i in range(k)]
    # Rank each step's first time among the steps done (ties: the earlier step first),
    # then t_r is the time of the step ranked r: the (r+1)-th distinct step done.
    ranks = []
    for i in range(k):
        before = [
            ((f[j2] < f[i]) | ((f[j2] == f[i]) & ibis.literal(j2 <= i)))
            .coalesce(False)
            .cast("int32")
            for j2 in range(k)
        ]
        ranks.append(
            ibis.cases((f[i].notnull(), sum(before[1:], before[0])), else_=ibis.null("int32"))
        )
    times = {
        f"t{r}": ibis.cases(
            *[(ranks[i] == r + 1, f[i]) for i in range(k)], else_=ibis.null("timestamp")
        )
        for r in range(k)
    }
    return per.select(person=per.e_person, **{d: per[d] for d in dims}, **times)


def seconds_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64")


def summary(tables: Sequence[ir.Table], dims: Sequence[str]) -> ir.Table:
    """Per breakdown value (and overall: ``_all`` true, dimensions NULL): entered per step,
    median and p90 seconds from the step before; each step's table aggregated on its own,
    then the steps side by side (one row, or one per breakdown value)."""
    parts = []
    for i, t in enumerate(tables):
        metrics: dict[str, ir.Value] = {f"entered_{i}": t.t.count()}
        if i:
            gap = seconds_between(t.t, t.prev)
            metrics[f"median_{i}"] = gap.quantile(0.5)
            metrics[f"p90_{i}"] = gap.quantile(0.9)
        parts.append(_grouped(t, metrics, dims))
    out = parts[0]
    if not dims:
        for part in parts[1:]:
            out = out.cross_join(part)
        return out
    keys = ["_all", *dims]
    for i, part in enumerate(parts[1:], start=1):
        part = part.rename({f"k{i}_{c}": c for c in keys})
        same = [out[c].identical_to(part[f"k{i}_{c}"]) for c in keys]
        joined = out.left_join(part, same)
        out = joined.select(*[c for c in joined.columns if not c.startswith(f"k{i}_")])
    return out


def _grouped(t: ir.Table, metrics: dict[str, ir.Value], dims: Sequence[str]) -> ir.Table:
    if not dims:
        return t.aggregate(**metrics)
    # One pass for the total and the breakdown: each entry twice, once with its values
    # and once as part of the total (the breakdown's values NULL).
    both = t.mutate(_all=ibis.array([True, False]).unnest())
    keyed = both.mutate(
        **{d: ibis.cases((both._all, ibis.null("string")), else_=both[d]) for d in dims}
    )
    return keyed.group_by(["_all", *dims]).aggregate(**metrics)
