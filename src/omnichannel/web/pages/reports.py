"""Reports: the saved reports a user may see, the report builder (metric x dimensions x
filters -> table or chart, previewed before it is saved), and one report with its
chart, table, versions, sharing and schedule. Every change goes through
``platform.reports`` (audited there), the same the ``/api/reports`` routes call."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.errors import NotFoundError, OmniError
from omnichannel.reports.definition import (
    ATTRIBUTION_MODELS,
    DIMENSIONS,
    KINDS,
    PERIODS,
    PRESENTATIONS,
)
from omnichannel.reports.service import ReportForbidden, viewer_of
from omnichannel.web.i18n import gettext as _
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.render import csv_response, render, wants_csv

router = APIRouter(include_in_schema=False)

LIST_COLUMNS = ["id", "title", "metric", "owner", "team", "version", "presentation", "updated_at"]
PLAIN_DIMENSIONS = ("channel", "campaign", "content", "device", "store", "period")


def _words_in_templates() -> None:
    """Words the templates translate from data, for ``pybabel extract``."""
    _("kpi"), _("funnel"), _("retention"), _("attribution")
    _("table"), _("bar"), _("line"), _("private")


async def _fields(request: Request) -> dict[str, list[str]]:
    body = (await request.body()).decode("utf-8", "replace")
    return parse_qs(body, keep_blank_values=True)


def _first(fields: dict[str, list[str]], name: str, default: str = "") -> str:
    values = fields.get(name) or [default]
    return values[0].strip()


def report_document(fields: dict[str, list[str]]) -> dict[str, Any]:
    """The report definition the builder's fields describe (checked by the library)."""
    kind = _first(fields, "kind", "kpi")
    metric: dict[str, Any] = {"kind": kind}
    if kind == "kpi":
        metric["kpis"] = [k for k in fields.get("kpi", []) if k]
    elif kind == "funnel":
        steps = [s for s in fields.get("step", []) if s]
        if _first(fields, "preset") == "marketing":
            metric["preset"] = "marketing"
        else:
            metric["funnel"] = {
                "steps": [{"order": {}} if s == "order" else s for s in steps],
                "window": _first(fields, "window", "7d") or "7d",
            }
    elif kind == "retention":
        start = _first(fields, "start", "order") or "order"
        metric["retention"] = {
            "start": {"order": {}} if start == "order" else start,
            "periods": int(_first(fields, "periods", "6") or 6)
            if _first(fields, "periods", "6").isdigit()
            else _first(fields, "periods"),
        }
    elif kind == "attribution":
        metric["models"] = [m for m in fields.get("model", []) if m] or ["last_touch"]
        lookback = _first(fields, "lookback_days", "30") or "30"
        metric["lookback_days"] = (
            float(lookback) if lookback.replace(".", "", 1).isdigit() else lookback
        )
    dimensions = [d for d in fields.get("dimension", []) if d]
    segment = _first(fields, "segment_dimension")
    if segment:
        dimensions.append(f"segment:{segment}")
    filters = {
        k: _first(fields, k) for k in ("since", "until", "channel", "campaign") if _first(fields, k)
    }
    return {
        "title": _first(fields, "title"),
        "description": _first(fields, "description"),
        "metric": metric,
        "dimensions": dimensions,
        "filters": filters,
        "period": _first(fields, "period", "week") or "week",
        "presentation": _first(fields, "presentation", "table") or "table",
    }


def chart_option(result: dict[str, Any], presentation: str) -> dict[str, Any] | None:
    """An ECharts option for a report's answer (None for a table or nothing to draw)."""
    spec = result.get("chart") or {}
    x, ys, groups = spec.get("x"), list(spec.get("y") or []), list(spec.get("group") or [])
    rows = result.get("rows") or []
    if presentation == "table" or not x or not ys or not rows:
        return None
    categories: list[str] = []
    for r in rows:
        label = str(r.get(x))
        if label not in categories:
            categories.append(label)
    series: list[dict[str, Any]] = []
    if groups:
        by_group: dict[str, dict[str, Any]] = {}
        for r in rows:
            name = " · ".join(str(r.get(g)) for g in groups)
            by_group.setdefault(name, {})[str(r.get(x))] = r.get(ys[0])
        for name, values in list(by_group.items())[:20]:
            series.append(
                {"name": name, "type": presentation, "data": [values.get(c) for c in categories]}
            )
    else:
        for y in ys:
            values = {str(r.get(x)): r.get(y) for r in rows}
            series.append(
                {"name": y, "type": presentation, "data": [values.get(c) for c in categories]}
            )
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "bottom": 0},
        "grid": {"left": 64, "right": 16, "top": 24, "bottom": 56},
        "xAxis": {"type": "category", "data": categories},
        "yAxis": {"type": "value"},
        "series": series,
    }


def _teams_for(services: ServicesDep, principal: Any) -> list[str]:
    reports = services.platform.reports
    if viewer_of(principal) is None:
        return [t["name"] for t in reports.teams.list()]
    return reports.teams.of_user(str(principal.email or principal.actor))


def _builder_context(services: ServicesDep, principal: Any) -> dict[str, Any]:
    platform = services.platform
    return {
        "kinds": KINDS,
        "catalogue": [k["name"] for k in platform.kpis.catalogue()],
        "events": platform.reports.event_names(limit=300),
        "models": ATTRIBUTION_MODELS,
        "dimensions": PLAIN_DIMENSIONS,
        "dimensions_of": {k: list(v) for k, v in DIMENSIONS.items()},
        "segments": [s["name"] for s in platform.segments.list()],
        "periods": PERIODS,
        "presentations": PRESENTATIONS,
        "teams": _teams_for(services, principal),
    }


def _error(request: Request, exc: Exception) -> str:
    with speaking(pick(request)):
        return str(exc)


@router.get("/reports")
def reports_page(request: Request, services: ServicesDep) -> Response:
    principal = request.state.principal
    rows = services.platform.reports.list(user=viewer_of(principal))
    if wants_csv(request):
        return csv_response(rows, LIST_COLUMNS, "reports")
    return render(request, "reports.html", {"reports": rows})


@router.get("/reports/new")
def new_report_page(request: Request, services: ServicesDep) -> Response:
    principal = request.state.principal
    return render(
        request,
        "report_builder.html",
        {**_builder_context(services, principal), "document": None, "values": {}, "preview": None},
    )


def _values(fields: dict[str, list[str]]) -> dict[str, Any]:
    """What the builder shows back: the first value of each field, lists for multiples."""
    multiple = ("kpi", "step", "model", "dimension")
    return {k: (v if k in multiple else v[0]) for k, v in fields.items() if k != "csrf_token"}


@router.post("/reports/new")
async def save_report(request: Request, services: ServicesDep) -> Response:
    """The builder's two buttons: preview (run without saving) or save (then its page)."""
    principal = request.state.principal
    fields = await _fields(request)
    document = report_document(fields)
    reports = services.platform.reports
    preview, error = None, None
    try:
        if _first(fields, "action") == "save":
            team = _first(fields, "team") or None
            saved = reports.create(
                document,
                owner=str(principal.email or principal.actor),
                team=team,
                actor=principal.actor,
            )
            return RedirectResponse(f"/reports/{saved['id']}", status_code=303)
        preview = reports.preview(document)
    except OmniError as exc:
        error = _error(request, exc)
    with speaking(pick(request)):
        chart = chart_option(preview, document["presentation"]) if preview else None
    return render(
        request,
        "report_builder.html",
        {
            **_builder_context(services, principal),
            "document": json.dumps(document, ensure_ascii=False, indent=2),
            "values": _values(fields),
            "preview": preview,
            "chart": chart,
            "error": error,
        },
        status=400 if error else 200,
    )


@router.get("/reports/{report_id}")
def report_page(request: Request, report_id: int, services: ServicesDep) -> Response:
    principal = request.state.principal
    reports = services.platform.reports
    user = viewer_of(principal)
    version_text = request.query_params.get("version", "")
    version = int(version_text) if version_text.isdigit() else None
    answer: dict[str, Any] | None = None
    error: str | None = None
    try:
        report = reports.show(report_id, user=user, version=version)
    except NotFoundError as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/reports"}, status=404
        )
    try:
        answer = reports.run(report_id, user=user, version=version)
    except OmniError as exc:
        error = _error(request, exc)
    if wants_csv(request):
        if answer is None:
            return csv_response([], [], f"report-{report_id}")
        return csv_response(answer["rows"], answer["columns"], f"report-{report_id}")
    presentation = report["definition"].get("presentation", "table")
    owner = user is None or report["owner"] == user
    return render(
        request,
        "report.html",
        {
            "report": report,
            "answer": answer,
            "error": error,
            "chart": chart_option(answer, presentation) if answer else None,
            "versions": reports.versions(report_id, user=user),
            "can_change": owner and principal.can("reports:write"),
            "teams": _teams_for(services, principal),
            "document": json.dumps(report["definition"], ensure_ascii=False, indent=2),
            "weekdays": range(7),
        },
        status=400 if error else 200,
    )


async def _change(request: Request, report_id: int, change: Any) -> Response:
    try:
        change()
    except ReportForbidden as exc:
        return render(
            request,
            "analytics_error.html",
            {"error": _error(request, exc), "back": f"/reports/{report_id}"},
            status=403,
        )
    except NotFoundError as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/reports"}, status=404
        )
    except OmniError as exc:
        return render(
            request,
            "analytics_error.html",
            {"error": _error(request, exc), "back": f"/reports/{report_id}"},
            status=400,
        )
    return RedirectResponse(f"/reports/{report_id}", status_code=303)


@router.post("/reports/{report_id}/share")
async def share_report(request: Request, report_id: int, services: ServicesDep) -> Response:
    principal = request.state.principal
    team = _first(await _fields(request), "team") or None
    return await _change(
        request,
        report_id,
        lambda: services.platform.reports.share(
            report_id, team, actor=principal.actor, user=viewer_of(principal)
        ),
    )


@router.post("/reports/{report_id}/schedule")
async def schedule_report(request: Request, report_id: int, services: ServicesDep) -> Response:
    principal = request.state.principal
    fields = await _fields(request)
    every = _first(fields, "every")
    plan: dict[str, Any] | None = None
    if every:
        plan = {"every": every}
        for key in ("hour", "weekday", "day"):
            text = _first(fields, key)
            if text:
                plan[key] = int(text) if text.isdigit() else text
        if every != "week":
            plan.pop("weekday", None)
        if every != "month":
            plan.pop("day", None)
    return await _change(
        request,
        report_id,
        lambda: services.platform.reports.schedule(
            report_id, plan, actor=principal.actor, user=viewer_of(principal)
        ),
    )


@router.post("/reports/{report_id}/definition")
async def update_report(request: Request, report_id: int, services: ServicesDep) -> Response:
    """A new version from the definition's JSON, edited on the report's page."""
    principal = request.state.principal
    text = _first(await _fields(request), "document")
    return await _change(
        request,
        report_id,
        lambda: services.platform.reports.update(
            report_id, text, actor=principal.actor, user=viewer_of(principal)
        ),
    )


@router.post("/reports/{report_id}/delete")
async def delete_report(request: Request, report_id: int, services: ServicesDep) -> Response:
    principal = request.state.principal
    response = await _change(
        request,
        report_id,
        lambda: services.platform.reports.delete(
            report_id, actor=principal.actor, user=viewer_of(principal)
        ),
    )
    if response.status_code == 303:
        return RedirectResponse("/reports", status_code=303)
    return response
