"""Analytics: funnels (a builder and its chart), retention (a cohort heatmap), attribution
models side by side, KPI tables with their comparison across periods, experiments, and
the open alerts on the landing page. Every answer comes from the library layer
(``platform.funnels``, ``retention``, ``attribution`` via ``reports.attribution``,
``kpis``, ``experiments``, ``alerts``), the same the ``/api/analytics`` routes call."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from omnichannel.analytics.attribution import MODELS
from omnichannel.api.deps import ServicesDep
from omnichannel.errors import NotFoundError, OmniError, ValidationError
from omnichannel.web.i18n import babel_locale, pick, speaking
from omnichannel.web.i18n import gettext as _
from omnichannel.web.render import csv_response, env, form_of, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)


def format_duration(seconds: Any) -> str:
    """Seconds as the locale says a duration ("2 hours", "2小时"); '' for none."""
    if seconds is None:
        return ""
    from datetime import timedelta

    from babel.dates import format_timedelta

    return format_timedelta(
        timedelta(seconds=float(seconds)), threshold=1.5, format="short", locale=babel_locale()
    )


env.filters["duration"] = format_duration

ORDERS = ("ordered", "strict", "any")
BREAKDOWNS = ("channel", "campaign", "content", "device", "store")
FILTER_OPS = ("equals", "gte", "lte", "contains")
MAX_STEPS = 6
# The attribution package's own list: a model it gains is offered here too.
ATTRIBUTION_MODELS = MODELS
DEFAULT_MODELS = ("first_touch", "last_touch", "linear", "position_based", "markov")
LOOKBACKS = (7, 14, 30, 60, 90)
DEFAULT_KPIS = ("sends", "clicks", "ctr", "deals", "deal_rate", "revenue", "roas")
STEP_COLUMNS = [
    "group",
    "step",
    "name",
    "entered",
    "conversion_from_previous",
    "conversion_from_first",
    "dropped_off",
    "median_seconds_from_previous",
    "p90_seconds_from_previous",
]


def _words_in_templates() -> None:
    """Words the templates translate from data, for ``pybabel extract``."""
    _("ordered"), _("strict"), _("any"), _("channel"), _("campaign"), _("content")
    _("device"), _("store"), _("day"), _("week"), _("month"), _("open"), _("resolved")
    _("primary"), _("guardrail"), _("conversion"), _("revenue")


def _error_text(request: Request, exc: Exception) -> str:
    with speaking(pick(request)):
        return str(exc)


# --- landing ---------------------------------------------------------------------------

ALERT_COLUMNS = ["id", "rule", "kind", "subject", "state", "value", "low", "high", "message"]


@router.get("/analytics")
def analytics_page(request: Request, services: ServicesDep) -> Response:
    alerts = services.platform.alerts.list(state="open")
    if wants_csv(request):
        return csv_response(alerts, [*ALERT_COLUMNS, "opened_at"], "open-alerts")
    return render(request, "analytics.html", {"alerts": alerts})


# --- funnels ---------------------------------------------------------------------------


def _value(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() not in ("",) else text
    except ValueError:
        return text


def funnel_document(params: dict[str, Any]) -> dict[str, Any] | None:
    """The funnel the builder's fields describe, or None before two steps are picked."""
    names = [s for s in params.get("steps", []) if s]
    if len(names) < 2:
        return None
    steps: list[Any] = [{"event": n} if n != "order" else {"order": {}} for n in names]
    prop, op, value = params.get("property"), params.get("op"), params.get("value")
    if prop and op in FILTER_OPS and value not in (None, ""):
        at = int(params.get("filter_step") or 1) - 1
        if 0 <= at < len(steps) and "event" in steps[at]:
            steps[at]["where"] = [{"property": prop, op: _value(str(value))}]
    doc: dict[str, Any] = {"name": "builder", "steps": steps}
    doc["window"] = params.get("window") or "7d"
    doc["order"] = params.get("order") or "ordered"
    if params.get("by"):
        doc["by"] = [params["by"]]
    return doc


def _funnel_params(request: Request) -> dict[str, Any]:
    q = request.query_params
    return {
        "steps": [s for s in q.getlist("step") if s][:MAX_STEPS],
        "property": q.get("property", ""),
        "op": q.get("op", "equals"),
        "value": q.get("value", ""),
        "filter_step": q.get("filter_step", "1"),
        "window": q.get("window", "7d"),
        "order": q.get("order", "ordered"),
        "by": q.get("by", ""),
        "preset": q.get("preset", ""),
    }


def funnel_chart(steps: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """Bars per step: who reached it (labelled with the count and the conversion from the
    first step) stacked on who dropped off before it, so each bar is the previous step."""
    from omnichannel.web.i18n import format_number, format_rate

    names = [s["name"] for s in steps]
    reached = [
        {
            "value": s["entered"],
            "label": {
                "formatter": f"{format_number(s['entered'])} "
                f"({format_rate(s['conversion_from_first'])})"
            },
        }
        for s in steps
    ]
    lost = [0] + [s["dropped_off"] or 0 for s in steps[:-1]]
    return {
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 56, "right": 16, "top": 36, "bottom": 56},
        "xAxis": {"type": "category", "data": names},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": _("Reached"),
                "type": "bar",
                "stack": "funnel",
                "data": reached,
                "label": {"show": True, "position": "insideTop"},
            },
            {
                "name": _("Dropped off before this step"),
                "type": "bar",
                "stack": "funnel",
                "data": lost,
                "itemStyle": {"color": "#fca5a5"},
            },
        ],
    }


def _step_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"group": "(all)", **s} for s in answer["overall"]["steps"]]
    for group in answer.get("breakdown", []):
        label = ", ".join(f"{k}={v}" for k, v in group["values"].items())
        rows += [{"group": label, **s} for s in group["steps"]]
    return rows


@router.get("/analytics/funnels")
def funnels_page(request: Request, services: ServicesDep) -> Response:
    platform = services.platform
    params = _funnel_params(request)
    events = platform.reports.event_names(limit=300)
    answer, error, doc = None, None, None
    try:
        if params["preset"] == "marketing":
            answer = platform.funnels.marketing()
        else:
            doc = funnel_document(params)
            if doc is not None:
                answer = platform.funnels.run(doc)
    except OmniError as exc:
        error = _error_text(request, exc)
    if wants_csv(request):
        return csv_response(_step_rows(answer) if answer else [], STEP_COLUMNS, "funnel")
    with speaking(pick(request)):
        chart = funnel_chart(answer["overall"]["steps"], _("All entries")) if answer else None
        group_charts = [
            {
                "id": f"funnel-group-{i}",
                "option": funnel_chart(
                    g["steps"], ", ".join(f"{k}={v}" for k, v in g["values"].items())
                ),
            }
            for i, g in enumerate((answer or {}).get("breakdown", [])[:6])
        ]
    picked = params["steps"] + [""] * max(0, 3 - len(params["steps"]))
    return render(
        request,
        "analytics_funnels.html",
        {
            "params": params,
            "picked": picked[:MAX_STEPS],
            "events": events,
            "orders": ORDERS,
            "breakdowns": BREAKDOWNS,
            "ops": FILTER_OPS,
            "answer": answer,
            "chart": chart,
            "group_charts": group_charts,
            "document": json.dumps(doc, ensure_ascii=False) if doc else "",
            "error": error,
            "status_code": 400 if error else 200,
        },
        status=400 if error else 200,
    )


@router.post("/analytics/funnels/dropoff")
async def save_dropoff(request: Request, services: ServicesDep) -> Response:
    """The people who reached a step and not the next, saved as a segment (the library's
    drop-off call); then the segment's page."""
    form = await form_of(request)
    principal = request.state.principal
    try:
        doc = json.loads(form.get("document") or "null")
        if not isinstance(doc, dict):
            raise ValidationError("document", form.get("document"), "a funnel document")
        step_text = form.get("step", "")
        if not step_text.isdigit():
            raise ValidationError("step", step_text, "a step number")
        name = form.get("segment", "").strip()
        services.platform.funnels.dropoff(
            doc, step=int(step_text), save_segment=name, actor=principal.actor
        )
    except (OmniError, ValueError) as exc:
        return render(
            request,
            "analytics_error.html",
            {"error": _error_text(request, exc), "back": "/analytics/funnels"},
            status=400,
        )
    return RedirectResponse(f"/segments/{name}", status_code=303)


# --- retention -------------------------------------------------------------------------


def retention_heatmap(table: dict[str, Any]) -> dict[str, Any]:
    cohorts = [str(c["cohort"])[:10] for c in table["cohorts"]]
    periods = [str(n) for n in range(int(table["periods"]) + 1)]
    data = [
        [n, i, None if rate is None else round(rate * 100, 1)]
        for i, c in enumerate(table["cohorts"])
        for n, rate in enumerate(c["rates"])
    ]
    return {
        "tooltip": {"position": "top"},
        "grid": {"left": 96, "right": 16, "top": 16, "bottom": 72},
        "xAxis": {"type": "category", "data": periods, "name": _("Period")},
        "yAxis": {"type": "category", "data": cohorts, "inverse": True},
        "visualMap": {
            "min": 0,
            "max": 100,
            "orient": "horizontal",
            "left": "center",
            "bottom": 0,
            "calculable": True,
            "inRange": {"color": ["#eff6ff", "#1d4ed8"]},
        },
        "series": [
            {
                "name": _("Returned (%)"),
                "type": "heatmap",
                "data": data,
                "label": {"show": True},
            }
        ],
    }


@router.get("/analytics/retention")
def retention_page(request: Request, services: ServicesDep) -> Response:
    q = request.query_params
    params = {
        "start": q.get("start", "order"),
        "returning": q.get("returning", ""),
        "period": q.get("period", "month"),
        "periods": q.get("periods", "6"),
    }
    table, error = None, None
    try:
        if not params["periods"].isdigit():
            raise ValidationError("periods", params["periods"], "a whole number of periods")
        doc: dict[str, Any] = {
            "start": {"order": {}} if params["start"] == "order" else params["start"],
            "period": params["period"],
            "periods": int(params["periods"]),
        }
        if params["returning"]:
            back = params["returning"]
            doc["returning"] = {"order": {}} if back == "order" else back
        table = services.platform.retention.run(doc)
    except OmniError as exc:
        error = _error_text(request, exc)
    rows = []
    for c in (table or {}).get("cohorts", []):
        row: dict[str, Any] = {"cohort": str(c["cohort"])[:10], "people": c["people"]}
        row.update({f"period_{n}": r for n, r in enumerate(c["rates"])})
        rows.append(row)
    if wants_csv(request):
        n = int(table["periods"]) if table else 0
        return csv_response(
            rows, ["cohort", "people", *[f"period_{i}" for i in range(n + 1)]], "retention"
        )
    with speaking(pick(request)):
        heatmap = retention_heatmap(table) if table and table["cohorts"] else None
    return render(
        request,
        "analytics_retention.html",
        {
            "params": params,
            "events": services.platform.reports.event_names(limit=300),
            "table": table,
            "heatmap": heatmap,
            "error": error,
        },
        status=400 if error else 200,
    )


# --- attribution -----------------------------------------------------------------------


def grouped_bars(rows: list[dict[str, Any]], x: str, series: list[str]) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "bottom": 0},
        "grid": {"left": 56, "right": 16, "top": 24, "bottom": 56},
        "xAxis": {"type": "category", "data": [str(r[x]) for r in rows]},
        "yAxis": {"type": "value"},
        "series": [{"name": s, "type": "bar", "data": [r.get(s) for r in rows]} for s in series],
    }


@router.get("/analytics/attribution")
def attribution_page(request: Request, services: ServicesDep) -> Response:
    q = request.query_params
    models = [m for m in q.getlist("model") if m] or list(DEFAULT_MODELS)
    lookback = q.get("lookback_days", "30")
    answer, error = None, None
    try:
        try:
            days = float(lookback)
        except ValueError:
            raise ValidationError("lookback_days", lookback, "a number of days") from None
        answer = services.platform.reports.attribution(models, lookback_days=days)
    except OmniError as exc:
        error = _error_text(request, exc)
    if wants_csv(request):
        rows = (answer or {}).get(
            "value_rows" if table_of(request, "conversions") == "value" else "rows", []
        )
        return csv_response(rows, ["channel", *models], "attribution")
    chart = grouped_bars(answer["rows"], "channel", models) if answer else None
    return render(
        request,
        "analytics_attribution.html",
        {
            "models": models,
            "all_models": ATTRIBUTION_MODELS,
            "lookback": lookback,
            "lookbacks": LOOKBACKS,
            "answer": answer,
            "chart": chart,
            "error": error,
        },
        status=400 if error else 200,
    )


# --- KPIs --------------------------------------------------------------------------------

COMPARE_COLUMNS = [
    "group",
    "kpi",
    "a",
    "b",
    "change",
    "relative_change",
    "test",
    "p_value",
    "significant",
]


def _compare_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for item in answer.get("rows", []):
        group = item.get("group") or {}
        label = ", ".join(f"{k}={v}" for k, v in group.items() if v is not None) or "(all)"
        rows.append({**item, "group": label})
    return rows


def _next_period(start: str, period: str) -> str:
    from datetime import date, timedelta

    day = date.fromisoformat(start[:10])
    if period == "day":
        return (day + timedelta(days=1)).isoformat()
    if period == "week":
        return (day + timedelta(days=7)).isoformat()
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, 1).isoformat()


def _kpi_params(request: Request) -> dict[str, Any]:
    q = request.query_params
    by = q.get("by", "channel")
    return {
        "kpis": [k for k in q.getlist("kpi") if k] or list(DEFAULT_KPIS),
        "by": by,
        "by_list": [by] if by else None,
        "period": q.get("period", "month"),
        "since": q.get("since") or None,
        "until": q.get("until") or None,
    }


def _comparison(services: ServicesDep, p: dict[str, Any], since: Any, until: Any) -> Any:
    return services.platform.kpis.compare(p["kpis"], by=p["by_list"], since=since, until=until)


@router.get("/analytics/kpis")
def kpis_page(request: Request, services: ServicesDep) -> Response:
    """The KPI table; the comparison loads in place (``/analytics/kpis/compare``) for the
    latest period with data, or ``[since, until)``, against the one before."""
    platform = services.platform
    p = _kpi_params(request)
    kpis, by, period = p["kpis"], p["by"], p["period"]
    result, error, a_since, a_until = None, None, p["since"], p["until"]
    try:
        result = platform.kpis.run(
            kpis, by=p["by_list"], period=period or None, since=p["since"], until=p["until"]
        )
        periods = sorted({str(r["period"])[:10] for r in result["rows"] if r["period"]})
        if not p["since"] and not p["until"] and periods:
            a_since, a_until = periods[-1], _next_period(periods[-1], period or "month")
        if wants_csv(request) and table_of(request, "kpis") == "compare":
            compared = _compare_rows(_comparison(services, p, a_since, a_until))
            return csv_response(compared, COMPARE_COLUMNS, "kpi-comparison")
    except OmniError as exc:
        error = _error_text(request, exc)
    rows = []
    for row in (result or {}).get("rows", []):
        out: dict[str, Any] = {**row["group"], "period": str(row["period"] or "")[:10]}
        for name in kpis:
            cell = row["kpis"].get(name, {})
            out[name] = cell.get("value")
            out[f"{name}:status"] = cell.get("status")
        rows.append(out)
    if wants_csv(request):
        return csv_response(rows, [*([by] if by else []), "period", *kpis], "kpis")
    from urllib.parse import urlencode

    compare_query = urlencode(
        [("kpi", k) for k in kpis]
        + [("by", by), ("since", a_since or ""), ("until", a_until or "")]
    )
    return render(
        request,
        "analytics_kpis.html",
        {
            "kpis": kpis,
            "catalogue": platform.kpis.catalogue(),
            "by": by,
            "period": period,
            "since": p["since"] or "",
            "until": p["until"] or "",
            "rows": rows,
            "result": result,
            "compare_url": f"/analytics/kpis/compare?{compare_query}" if result else None,
            "error": error,
        },
        status=400 if error else 200,
    )


@router.get("/analytics/kpis/compare")
def kpis_compare(request: Request, services: ServicesDep) -> Response:
    """The comparison of ``[since, until)`` with the period before (an htmx fragment of
    the KPI page; CSV with ``?format=csv``)."""
    p = _kpi_params(request)
    comparison, error = None, None
    try:
        comparison = _comparison(services, p, p["since"], p["until"])
    except OmniError as exc:
        error = _error_text(request, exc)
    compared = _compare_rows(comparison or {})
    if wants_csv(request):
        return csv_response(compared, COMPARE_COLUMNS, "kpi-comparison")
    return render(
        request,
        "analytics_kpis_compare.html",
        {"comparison": comparison, "compared": compared, "error": error},
        status=400 if error else 200,
    )


# --- experiments -----------------------------------------------------------------------


@router.get("/analytics/experiments")
def experiments_page(request: Request, services: ServicesDep) -> Response:
    platform = services.platform
    experiments = platform.experiments.list()
    journeys = [j for j in platform.journeys.list() if j.get("enrolled")]
    if wants_csv(request):
        rows = [
            {"name": e["name"], "status": e["status"], "exposures": e.get("exposures")}
            for e in experiments
        ]
        return csv_response(rows, ["name", "status", "exposures"], "experiments")
    return render(
        request, "analytics_experiments.html", {"experiments": experiments, "journeys": journeys}
    )


def _comparison_rows(reading: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for metric in reading.get("metrics", []):
        for c in metric.get("comparisons", []):
            rows.append({"metric": metric["metric"], "role": metric["role"], **c})
    return rows


def _experiment(request: Request, services: ServicesDep, **subject: Any) -> Response:
    segments = [s for s in request.query_params.getlist("segment") if s]
    try:
        reading = services.platform.experiments.analyse(segments=segments, **subject)
    except NotFoundError as exc:
        return render(
            request,
            "not_found.html",
            {"error": str(exc), "back": "/analytics/experiments"},
            status=404,
        )
    except OmniError as exc:
        return render(
            request,
            "analytics_error.html",
            {"error": _error_text(request, exc), "back": "/analytics/experiments"},
            status=400,
        )
    if wants_csv(request):
        if table_of(request, "variants") == "metrics":
            flat = [
                {
                    k: (json.dumps(v, default=str) if isinstance(v, dict | list) else v)
                    for k, v in r.items()
                }
                for r in _comparison_rows(reading)
            ]
            columns = sorted({k for r in flat for k in r}, key=lambda k: (k != "metric", k))
            return csv_response(flat, columns, "experiment-metrics")
        return csv_response(reading["variants"], ["name", "weight", "units"], "experiment-arms")
    return render(
        request,
        "analytics_experiment.html",
        {
            "reading": reading,
            "title": subject.get("name") or subject.get("journey"),
            "segments": segments,
            "segment_names": [s["name"] for s in services.platform.segments.list()],
        },
    )


@router.get("/analytics/experiments/journeys/{journey}")
def journey_holdout_page(request: Request, journey: str, services: ServicesDep) -> Response:
    return _experiment(request, services, journey=journey)


@router.get("/analytics/experiments/{name}")
def experiment_page(request: Request, name: str, services: ServicesDep) -> Response:
    return _experiment(request, services, name=name)
