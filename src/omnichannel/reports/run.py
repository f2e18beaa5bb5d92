"""Running a report: its metric asked of the library layer, answered as one table.

Every answer has the same shape whatever the metric, so a page, an email and a CSV
export print it the same way::

    {"columns": ["channel", "period", "revenue"], "rows": [{...}, ...],
     "chart": {"x": "period", "y": ["revenue"], "group": ["channel"]}}

``chart`` says how the presentation draws it: ``x`` the category axis, ``y`` the measures,
``group`` the columns whose values are one series each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from omnichannel.errors import ValidationError
from omnichannel.reports.definition import ATTRIBUTION_MODELS, ReportDefinition

if TYPE_CHECKING:
    from omnichannel.platform import Platform

NONE = "(none)"


def run_definition(platform: Platform, d: ReportDefinition) -> dict[str, Any]:
    runner = {
        "kpi": _kpi,
        "funnel": _funnel,
        "retention": _retention,
        "attribution": _attribution,
    }[d.metric.kind]
    return runner(platform, d)


def _kpi(platform: Platform, d: ReportDefinition) -> dict[str, Any]:
    kpis = list(d.metric.kpis or [])
    by = [dim for dim in d.dimensions if dim != "period"]
    period = d.period if "period" in d.dimensions else None
    f = d.filters
    answer = platform.kpis.run(
        kpis,
        since=f.since,
        until=f.until,
        by=by or None,
        period=period,
        channel=f.channel,
        campaign=f.campaign,
        segment=f.segment,
    )
    rows = []
    for row in answer["rows"]:
        out: dict[str, Any] = {dim: _label(row["group"].get(dim)) for dim in by}
        if period:
            out["period"] = str(row["period"])[:10]
        for name in kpis:
            out[name] = row["kpis"].get(name, {}).get("value")
        rows.append(out)
    columns = [*by, *(["period"] if period else []), *kpis]
    x = "period" if period else (by[0] if by else None)
    group = [dim for dim in by if dim != x]
    return {
        "columns": columns,
        "rows": rows,
        "chart": {"x": x, "y": kpis if not group else kpis[:1], "group": group},
        "no_data": answer.get("no_data"),
    }


def _funnel(platform: Platform, d: ReportDefinition) -> dict[str, Any]:
    f = d.filters
    overrides: dict[str, Any] = {"by": list(d.dimensions)}
    if f.since:
        overrides["since"] = f.since
    if f.until:
        overrides["until"] = f.until
    if d.metric.preset == "marketing":
        answer = platform.funnels.marketing(**overrides)
    else:
        answer = platform.funnels.run(d.metric.funnel or {}, **overrides)
    groups = answer["breakdown"] if d.dimensions else [{"values": {}, **answer["overall"]}]
    rows = []
    for group in groups:
        for step in group["steps"]:
            rows.append(
                {
                    **{dim: _label(group["values"].get(dim)) for dim in d.dimensions},
                    "step": step["step"],
                    "step_name": step["name"],
                    "entered": step["entered"],
                    "conversion_from_first": step["conversion_from_first"],
                    "conversion_from_previous": step["conversion_from_previous"],
                    "dropped_off": step["dropped_off"],
                    "median_seconds_from_previous": step["median_seconds_from_previous"],
                }
            )
    columns = [
        *d.dimensions,
        "step",
        "step_name",
        "entered",
        "conversion_from_first",
        "conversion_from_previous",
        "dropped_off",
        "median_seconds_from_previous",
    ]
    return {
        "columns": columns,
        "rows": rows,
        "chart": {"x": "step_name", "y": ["entered"], "group": list(d.dimensions)},
    }


def _retention(platform: Platform, d: ReportDefinition) -> dict[str, Any]:
    doc = dict(d.metric.retention or {})
    doc.setdefault("start", {"order": {}})  # cohorts of buyers unless told otherwise
    doc.setdefault("period", d.period)
    if d.filters.since:
        doc.setdefault("since", d.filters.since.isoformat())
    if d.filters.until:
        doc.setdefault("until", d.filters.until.isoformat())
    answer = platform.retention.run(doc)
    n = int(answer["periods"])
    periods = [f"period_{i}" for i in range(n + 1)]
    rows = []
    for cohort in answer["cohorts"]:
        row: dict[str, Any] = {"cohort": str(cohort["cohort"])[:10], "people": cohort["people"]}
        for i, rate in enumerate(cohort["rates"][: n + 1]):
            row[f"period_{i}"] = rate
        rows.append(row)
    return {
        "columns": ["cohort", "people", *periods],
        "rows": rows,
        "chart": {"x": "cohort", "y": periods[1:] or periods, "group": []},
    }


def attribution_side_by_side(
    platform: Platform,
    models: list[str],
    *,
    lookback_days: float,
    since: Any = None,
    until: Any = None,
) -> dict[str, Any]:
    """Several models' credit per channel in one table: a row per channel, a column per
    model (conversions credited); the channels most credited by the first model first."""
    from omnichannel.analytics.attribution.service import attribute, report
    from omnichannel.analytics.attribution.touches import spend_by_channel

    # The paths are built once and each model credits the same ones: what
    # ``platform.attribution.run`` does per model, without rebuilding them (most of its time).
    for i, model in enumerate(models):
        if model not in ATTRIBUTION_MODELS:
            raise ValidationError(f"models.{i}", model, "one of " + ", ".join(ATTRIBUTION_MODELS))
    paths, untouched = platform.attribution.paths(
        lookback_days=lookback_days, since=since, until=until
    )
    start, end = _naive(since), _naive(until)
    with platform.warehouse.reader() as wh:
        spend = spend_by_channel(wh, start, end)
    answers = {
        m: report(
            attribute(paths, m),
            paths,
            parameters={"model": m, "lookback_days": lookback_days},
            spend=spend,
            conversions_without_touch=untouched,
        )
        for m in models
    }
    credit: dict[str, dict[str, float]] = {}
    value: dict[str, dict[str, float]] = {}
    for model, answer in answers.items():
        for row in answer["channels"]:
            credit.setdefault(row["channel"], {})[model] = round(float(row["conversions"]), 4)
            value.setdefault(row["channel"], {})[model] = round(float(row["value"]), 2)
    first = models[0]
    order = sorted(credit, key=lambda c: (-credit[c].get(first, 0.0), c))
    rows = [{"channel": c, **{m: credit[c].get(m, 0.0) for m in models}} for c in order]
    sample = answers[first]
    return {
        "columns": ["channel", *models],
        "rows": rows,
        "value_rows": [{"channel": c, **{m: value[c].get(m, 0.0) for m in models}} for c in order],
        "chart": {"x": "channel", "y": list(models), "group": []},
        "conversions": sample["conversions"],
        "conversions_without_touch": sample["conversions_without_touch"],
        "lookback_days": lookback_days,
    }


def _attribution(platform: Platform, d: ReportDefinition) -> dict[str, Any]:
    return attribution_side_by_side(
        platform,
        list(d.metric.models or ["last_touch"]),
        lookback_days=d.metric.lookback_days or 30.0,
        since=d.filters.since,
        until=d.filters.until,
    )


def _naive(value: Any) -> datetime | None:
    """A date or time as the warehouse's naive UTC time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime(value.year, value.month, value.day)


def _label(value: Any) -> Any:
    return NONE if value is None else value
