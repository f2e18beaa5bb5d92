"""An experiment's (or a journey holdout's) reading from its units and the warehouse.

Units are ``(person, variant, exposed_at)``: an experiment's recorded exposures, or a
journey's enrolments (arm ``holdout`` against every other arm, entered at ``entered_at``).
A person is matched to a profile by profile id or by any linked identifier's value.
Per unit and metric, one Ibis query reads the goal (an event by name, or purchases) in
``[exposed_at, exposed_at + within)`` and in the same span before exposure (CUPED's
pre-period covariate). numpy then runs the tests of ``stats.py`` and ``sequential.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from omnichannel.analytics.experiments import sequential, stats
from omnichannel.analytics.experiments.definition import Metric
from omnichannel.identity.rules import IdentityRules
from omnichannel.warehouse import Warehouse

NOT_PURCHASES = ("cancelled", "canceled", "refunded", "failed", "voided")


@dataclass(frozen=True)
class Units:
    person: list[str]
    variant: list[str]
    exposed_at: list[datetime]


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def goal_rows(wh: Warehouse, rules: IdentityRules, metric: Metric) -> ir.Table:
    """``profile_id, ts, value`` of the metric's goal: named events (value 1) or purchases."""
    from omnichannel.profiles.timeline_store import event_rows, order_rows

    if metric.event is None or metric.kind == "revenue":
        o = order_rows(wh)
        o = o.filter(~o.status.fill_null("").lower().isin(NOT_PURCHASES))
        return o.select(profile_id=o.profile_id, ts=o.ts, value=o.total.cast("float64"))
    e = event_rows(wh, rules)
    e = e.filter(e.event == metric.event)
    return e.select(profile_id=e.profile_id, ts=e.ts, value=ibis.literal(1.0))


def unit_profiles(wh: Warehouse, units: Units) -> ir.Table:
    """``i, exposed_at, profile_id``: each unit's person as a profile (by profile id or any
    linked identifier's value; else the person as given)."""
    table = ibis.memtable(
        {
            "i": list(range(len(units.person))),
            "person": units.person,
            "exposed_at": [_naive(t) for t in units.exposed_at],
        },
        schema={"i": "int64", "person": "string", "exposed_at": "timestamp"},
    )
    pi = wh.table("profile_identifiers")
    linked = pi.filter(pi.status == "linked")
    keys = ibis.union(
        linked.select(key=linked.id_value, profile_id=linked.profile_id),
        linked.select(key=linked.profile_id, profile_id=linked.profile_id),
        distinct=True,
    )
    keys = keys.group_by("key").agg(profile_id=keys.profile_id.min())
    u = table.left_join(keys, table.person == keys.key)
    return u.select(u.i, u.exposed_at, profile_id=u.profile_id.coalesce(u.person))


def per_unit(wh: Warehouse, rules: IdentityRules, units: Units, metric: Metric) -> pa.Table:
    """``i, post_count, post_value, pre_count, pre_value`` for every unit (index ``i``)."""
    u = unit_profiles(wh, units)
    g = goal_rows(wh, rules, metric)
    g = g.select(g_profile=g.profile_id, g_ts=g.ts, g_value=g.value)
    span = metric.within_days * 86_400.0
    u, g = u.view(), g.view()
    j = u.left_join(g, u.profile_id == g.g_profile)
    j = j.select(
        "i",
        offset=(j.g_ts.epoch_seconds() - j.exposed_at.epoch_seconds()).cast("float64"),
        value=j.g_value,
    )
    post = (j.offset >= 0) & (j.offset < span)
    pre = (j.offset < 0) & (j.offset >= -span)
    out = j.group_by("i").agg(
        post_count=ibis.ifelse(post, 1, 0).sum(),
        post_value=ibis.ifelse(post, j.value, 0.0).sum(),
        pre_count=ibis.ifelse(pre, 1, 0).sum(),
        pre_value=ibis.ifelse(pre, j.value, 0.0).sum(),
    )
    return out.order_by("i").to_pyarrow()


def metric_values(table: pa.Table, metric: Metric, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The metric and its pre-period value per unit, in unit order."""
    index = table["i"].to_numpy()
    post = np.zeros(n)
    pre = np.zeros(n)
    if metric.kind == "conversion":
        post[index] = (table["post_count"].fill_null(0).to_numpy() > 0).astype(float)
        pre[index] = (table["pre_count"].fill_null(0).to_numpy() > 0).astype(float)
    else:
        post[index] = table["post_value"].fill_null(0.0).to_numpy()
        pre[index] = table["pre_value"].fill_null(0.0).to_numpy()
    return post, pre


def compare(
    y: np.ndarray,
    pre: np.ndarray,
    variant: np.ndarray,
    days: np.ndarray,
    metric: Metric,
    control: str,
    treatments: list[str],
    alpha: float,
) -> list[dict[str, Any]]:
    """Each treatment against the control: the fixed-horizon test, CUPED and mSPRT."""
    adjusted, cuped_info = stats.cuped(y, pre, variant)
    rows = []
    in_control = variant == control
    for name in treatments:
        in_t = variant == name
        if metric.kind == "conversion":
            test = (
                stats.two_proportions(
                    int(y[in_control].sum()),
                    int(in_control.sum()),
                    int(y[in_t].sum()),
                    int(in_t.sum()),
                    alpha=alpha,
                )
                if in_control.any() and in_t.any()
                else None
            )
        else:
            test = stats.welch(y[in_control], y[in_t], alpha=alpha)
        adjusted_test = stats.welch(adjusted[in_control], adjusted[in_t], alpha=alpha)
        rows.append(
            {
                "variant": name,
                "against": control,
                "test": test,
                "cuped": {**cuped_info, **adjusted_test},
                "sequential": _daily(y, variant, days, control, name, alpha),
            }
        )
    return rows


def _daily(
    y: np.ndarray, variant: np.ndarray, days: np.ndarray, control: str, name: str, alpha: float
) -> dict[str, Any]:
    looks = sorted(set(days.tolist()))
    cumulative: dict[str, list[tuple[int, float, float]]] = {control: [], name: []}
    for arm in (control, name):
        mask = variant == arm
        for day in looks:
            chosen = y[mask & (days <= day)]
            cumulative[arm].append(
                (int(chosen.size), float(chosen.sum()), float((chosen**2).sum()))
            )
    reading = sequential.reading(looks, cumulative[control], cumulative[name], alpha=alpha)
    reading["looks"] = reading["looks"][-60:]  # the last two months of daily looks
    return reading


def by_segment(wh: Warehouse, units: Units, segments: list[str]) -> dict[str, np.ndarray]:
    """Per segment, which units were members when they were exposed (a unit given by a
    user id or an email is matched through its profile, as the metrics are)."""
    if not segments:
        return {}
    m = wh.table("segment_memberships")
    m = m.filter(m.segment.isin(segments))
    table = unit_profiles(wh, units).view()
    j = table.join(m, table.profile_id == m.profile_id)
    j = j.filter(j.entered_at <= j.exposed_at, j.exited_at.isnull() | (j.exited_at > j.exposed_at))
    rows = j.select(j.i, j.segment).distinct().to_pyarrow()
    out = {s: np.zeros(len(units.person), dtype=bool) for s in segments}
    for i, segment in zip(rows["i"].to_pylist(), rows["segment"].to_pylist(), strict=True):
        out[segment][i] = True
    return out
