"""Each kind of rule evaluated at a moment ``as_of``: which subjects are out of range.

A detector returns one ``Finding`` per subject it judged, firing or not, so an open
alert whose subject is judged normal again is resolved; a subject it could not judge
(too little history) is left as it was.

- ``kpi_band``: the KPI in the last complete period against the robust band of the
  ``history`` periods before it: median ± k · 1.4826 · MAD (the MAD scaled to a normal
  standard deviation), at least ± 5 % of the median wide so a flat series does not fire
  on any wobble; ``seasonal`` days compare with the same weekday only.
- ``tracking_silent``: per source and event (page and screen calls by their type), the
  hours of the last ``history_days`` before the silence window; steady when at least
  ``steady_share`` of those hours had an event; fires when a steady one has none in the
  last ``silent_hours`` (by ``received_at``, when the collector got it).
- ``spend_without_conversions``: campaigns with spend ≥ ``min_spend`` over the last
  ``days`` and no purchase and no reservation attributed to them (the KPIs' rules).
- ``funnel_collapse``: per day, the people who did ``from_event`` and, of them, those
  who did ``to_event`` within ``window_hours`` after (one profile = one person); the
  last day whose window has passed against the band of the days before it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis

from omnichannel.analytics.alerts.rules import (
    FunnelCollapse,
    KpiBand,
    Rule,
    SpendWithoutConversions,
    TrackingSilent,
)

if TYPE_CHECKING:
    from omnichannel.platform import Platform

MAD_SCALE = 1.4826
MIN_RELATIVE_WIDTH = 0.05


@dataclass(frozen=True)
class Finding:
    subject: str
    firing: bool
    value: float | None = None
    low: float | None = None
    high: float | None = None
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Band:
    median: float
    low: float
    high: float


def robust_band(values: list[float], k: float) -> Band:
    """median ± k · max(1.4826 · MAD, 5 % of |median|)."""
    median = statistics.median(values)
    mad = statistics.median([abs(v - median) for v in values])
    width = k * max(MAD_SCALE * mad, MIN_RELATIVE_WIDTH * abs(median), 1e-12)
    return Band(median, median - width, median + width)


def period_start(at: datetime, period: str) -> datetime:
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day


def step(period: str) -> timedelta:
    return timedelta(days=7 if period == "week" else 1)


def detect(platform: Platform, rule: Rule, as_of: datetime) -> list[Finding]:
    if isinstance(rule, KpiBand):
        return kpi_band(platform, rule, as_of)
    if isinstance(rule, TrackingSilent):
        return tracking_silent(platform, rule, as_of)
    if isinstance(rule, SpendWithoutConversions):
        return spend_without_conversions(platform, rule, as_of)
    return funnel_collapse(platform, rule, as_of)


def kpi_band(platform: Platform, rule: KpiBand, as_of: datetime) -> list[Finding]:
    end = period_start(as_of, rule.period)
    size = step(rule.period)
    back = rule.history * (7 if rule.seasonal and rule.period == "day" else 1)
    start = end - size * (back + 1)
    result = platform.kpis.run(
        [rule.kpi],
        since=start,
        until=end,
        period=rule.period,
        channel=rule.channel,
        campaign=rule.campaign,
    )
    subject = rule.kpi + "".join(
        f" {k}={v}" for k, v in (("channel", rule.channel), ("campaign", rule.campaign)) if v
    )
    if rule.kpi in result["no_data"]:
        return []
    counted = {r["period"]: r["kpis"][rule.kpi] for r in result["rows"]}
    kind = _kind(rule.kpi)
    series: list[tuple[datetime, float | None]] = []
    at = start
    while at < end:
        cell = counted.get(at.date().isoformat())
        value = None if cell is None else cell["value"]
        if value is None and kind in ("count", "money"):
            value = 0.0  # a period with no facts had none of them
        series.append((at, value))
        at += size
    latest_at, latest = series[-1]
    history = [
        v
        for t, v in series[:-1]
        if v is not None and (not rule.seasonal or t.weekday() == latest_at.weekday())
    ][-rule.history :]
    if latest is None or len(history) < rule.min_history:
        return []
    band = robust_band(history, rule.k)
    below, above = latest < band.low, latest > band.high
    firing = {"both": below or above, "below": below, "above": above}[rule.direction]
    where = "below" if below else "above" if above else "within"
    return [
        Finding(
            subject=subject,
            firing=firing,
            value=latest,
            low=band.low,
            high=band.high,
            message=f"{subject} was {latest:.6g} in the {rule.period} of "
            f"{latest_at.date()}, {where} its normal range {band.low:.6g} to {band.high:.6g} "
            f"(median {band.median:.6g} of {len(history)} {rule.period}s)",
            detail={"period": latest_at.date().isoformat(), "history": len(history)},
        )
    ]


def _kind(name: str) -> str:
    from omnichannel.analytics.kpis.catalogue import CATALOGUE

    return CATALOGUE[name].kind


def tracking_silent(platform: Platform, rule: TrackingSilent, as_of: datetime) -> list[Finding]:
    silence = timedelta(hours=rule.silent_hours)
    start = as_of - silence - timedelta(days=rule.history_days)
    with platform.warehouse.reader() as wh:
        e = wh.table("events")
        at = e.received_at.coalesce(e.loaded_at, e.timestamp)
        e = e.mutate(_at=at, _name=e.event.coalesce(e.type))
        e = e.filter(e._at >= start, e._at < as_of)
        if rule.source is not None:
            e = e.filter(e.source == rule.source)
        if rule.event is not None:
            e = e.filter(e._name == rule.event)
        recent = e._at >= as_of - silence
        hours = e.group_by(["source", "_name"]).agg(
            hours=ibis.ifelse(recent, ibis.null(), e._at.truncate("h")).nunique(),
            before=ibis.ifelse(recent, 0, 1).sum(),
            recent=ibis.ifelse(recent, 1, 0).sum(),
        )
        rows = hours.to_pyarrow().to_pylist()
    total_hours = rule.history_days * 24
    findings = []
    for r in rows:
        share = float(r["hours"] or 0) / total_hours
        if share < rule.steady_share:
            continue  # not steady: silence means nothing
        expected = float(r["before"]) / total_hours * rule.silent_hours
        subject = f"{r['source']}/{r['_name']}"
        firing = int(r["recent"] or 0) == 0
        findings.append(
            Finding(
                subject=subject,
                firing=firing,
                value=float(r["recent"] or 0),
                low=expected,
                message=f"{subject}: no events in the last {rule.silent_hours:g} h, after "
                f"{int(r['before'])} in the {rule.history_days} days before "
                f"(about {expected:.1f} expected): is its tracking still firing?"
                if firing
                else f"{subject}: {int(r['recent'])} events in the last {rule.silent_hours:g} h",
                detail={"steady_share": round(share, 4), "history_events": int(r["before"])},
            )
        )
    return findings


def spend_without_conversions(
    platform: Platform, rule: SpendWithoutConversions, as_of: datetime
) -> list[Finding]:
    since = as_of - timedelta(days=rule.days)
    result = platform.kpis.run(
        ["spend", "deals", "reservations", "revenue"],
        since=since,
        until=as_of,
        by=["campaign"],
        campaign=rule.campaign,
    )
    findings = []
    for row in result["rows"]:
        campaign = row["group"].get("campaign")
        cells = row["kpis"]
        spend = cells["spend"]["value"] or 0.0
        if campaign is None or spend <= 0:
            continue
        conversions = (cells["deals"]["value"] or 0.0) + (cells["reservations"]["value"] or 0.0)
        firing = spend >= rule.min_spend and conversions == 0
        findings.append(
            Finding(
                subject=f"campaign={campaign}",
                firing=firing,
                value=spend,
                low=rule.min_spend,
                message=f"campaign {campaign} spent {spend:,.2f} in the last {rule.days} days "
                + (
                    "with no purchase or reservation"
                    if firing
                    else f"for {conversions:g} conversions"
                ),
                detail={"conversions": conversions, "revenue": cells["revenue"]["value"]},
            )
        )
    return findings


def funnel_collapse(platform: Platform, rule: FunnelCollapse, as_of: datetime) -> list[Finding]:
    window = timedelta(hours=rule.window_hours)
    # The last day whose every first step has had its whole window.
    last_day = period_start(as_of - window, "day") - timedelta(days=1)
    first_day = last_day - timedelta(days=rule.history)
    rows = funnel_days(platform, rule, first_day, last_day + timedelta(days=1))
    by_day = {r["day"]: r for r in rows}
    subject = f"{rule.from_event} -> {rule.to_event}"
    history: list[float] = []
    day = first_day
    while day < last_day:
        r = by_day.get(day)
        if r is not None and r["started"] >= rule.min_people:
            history.append(r["converted"] / r["started"])
        day += timedelta(days=1)
    latest = by_day.get(last_day)
    if latest is None or latest["started"] < rule.min_people or len(history) < rule.min_history:
        return []
    rate = latest["converted"] / latest["started"]
    band = robust_band(history, rule.k)
    firing = rate < band.low
    return [
        Finding(
            subject=subject,
            firing=firing,
            value=rate,
            low=band.low,
            high=band.high,
            message=f"{subject}: {rate:.1%} of {latest['started']} people on {last_day.date()}"
            + (" converted, below" if firing else " converted, within")
            + f" its normal range from {band.low:.1%} (median {band.median:.1%})",
            detail={"day": last_day.date().isoformat(), "started": latest["started"]},
        )
    ]


def funnel_days(
    platform: Platform, rule: FunnelCollapse, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Per day of the first step: people who took it, and those who took the second
    within the window after (their first first-step of the day counts)."""
    from omnichannel.profiles.timeline_store import event_rows

    window = timedelta(hours=rule.window_hours)
    with platform.warehouse.reader() as wh:
        e = event_rows(wh, platform.config.rules)
        e = e.filter(e.ts >= since, e.ts < until + window)
        a = e.filter(e.event == rule.from_event, e.ts < until)
        a = a.group_by([a.profile_id, a.ts.truncate("D").name("day")]).agg(start=a.ts.min())
        b = e.filter(e.event == rule.to_event).select(b_profile="profile_id", b_ts="ts")
        joined = a.left_join(
            b,
            [
                a.profile_id == b.b_profile,
                b.b_ts >= a.start,
                b.b_ts <= a.start + ibis.interval(seconds=int(window.total_seconds())),
            ],
        )
        per = joined.group_by(["profile_id", "day"]).agg(done=joined.b_ts.notnull().any())
        days = per.group_by("day").agg(
            started=per.profile_id.count(), converted=per.done.cast("int64").sum()
        )
        return days.order_by("day").to_pyarrow().to_pylist()
