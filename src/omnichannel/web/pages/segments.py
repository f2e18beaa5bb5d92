"""Segments: the list with sizes and trends, one segment with each condition's size, its
trend and why a person is (not) a member, and the visual builder (``/segments/new``,
``/segments/<name>/edit``) with its live size estimate (``/segments/builder/preview``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.profiles.lookup import AmbiguousIdentifierError, ProfileNotFoundError
from omnichannel.web import builders
from omnichannel.web.i18n import format_number, format_rate, pick, speaking
from omnichannel.web.pages.people import identifier_of, lookup_error, require_permission
from omnichannel.web.render import csv_response, form_of, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

SEGMENT_COLUMNS = ["name", "description", "version", "members", "updated_at", "created_by"]
TREND_DAYS = 30  # the list's sparklines and the segment page's chart


def sparkline(values: list[int]) -> dict[str, Any]:
    """A small ECharts line (no axes) of members per day."""
    return {
        "animation": False,
        "grid": {"left": 2, "right": 2, "top": 2, "bottom": 2},
        "xAxis": {"type": "category", "show": False, "data": list(range(len(values)))},
        "yAxis": {"type": "value", "show": False, "scale": True},
        "series": [{"type": "line", "data": values, "symbol": "none", "lineStyle": {"width": 1.5}}],
    }


def trend_chart(points: list[dict[str, Any]], members: str, entered: str, exited: str) -> Any:
    """Members per day as a line, entries and exits as bars (labels translated)."""
    days = [p["day"] for p in points]
    bars = {"type": "bar", "yAxisIndex": 1}
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [members, entered, exited], "bottom": 0},
        "grid": {"left": 50, "right": 50, "top": 20, "bottom": 50},
        "xAxis": {"type": "category", "data": days},
        "yAxis": [{"type": "value", "scale": True}, {"type": "value"}],
        "series": [
            {"name": members, "type": "line", "data": [p["members"] for p in points]},
            {"name": entered, **bars, "data": [p["entered"] for p in points]},
            {"name": exited, **bars, "data": [p["exited"] for p in points]},
        ],
    }


@router.get("/segments")
def segments_page(request: Request, services: ServicesDep) -> Response:
    rows = services.platform.segments.list(trend_days=TREND_DAYS)
    if wants_csv(request):
        columns = [*SEGMENT_COLUMNS, "trend"]
        return csv_response(rows, columns, "segments")
    for row in rows:
        row["sparkline"] = sparkline(row["trend"])
    return render(request, "segments.html", {"segments": rows, "trend_days": TREND_DAYS})


def _principal_actor(request: Request) -> str:
    user = getattr(request.state, "principal", None)
    return str(getattr(user, "actor", None) or "web")


def _builder(
    request: Request,
    services: Any,
    document: dict[str, Any] | str,
    *,
    name: str | None,
    segment: dict[str, Any] | None = None,
    error: Exception | None = None,
    status: int = 200,
) -> Response:
    """The builder page for a new segment (``name`` None) or an existing one."""
    platform = services.platform
    if name and segment is None:
        segment = platform.segments.show(name)
    text = document if isinstance(document, str) else builders.pretty(document)
    with speaking(pick(request)):
        labels = builders.labels()
        result = _estimate(platform, text) if error is None else _failed(error)
    return render(
        request,
        "segment_builder.html",
        {
            "name": name,
            "segment": segment,
            "document": text,
            "schema": builders.segment_schema(),
            "hints": builders.segment_hints(platform, own=name),
            "labels": labels,
            "fixed": ["name"] if name else [],
            "result": result,
        },
        status=status,
    )


def _failed(error: Exception) -> dict[str, Any]:
    field = getattr(error, "field", "")
    return {"error": str(error), "error_path": "" if field == "document" else field}


def _estimate(platform: Any, text: str) -> dict[str, Any]:
    """The live estimate's content: the size and each top-level condition's, or the error."""
    try:
        document = builders.parse_document(text)
        if not document.get("name"):
            document.pop("name", None)  # a segment is sized before it is named
        preview = platform.segments.preview(document, sample=0)
    except (ValidationError, NotFoundError) as exc:
        return _failed(exc)
    profiles = preview.get("profiles") or 0
    return {
        "preview": preview,
        "share": format_rate(preview["size"] / profiles) if profiles else "",
        "sizes": {c["path"]: format_number(c["size"]) for c in preview["conditions"]},
    }


@router.get("/segments/new")
def new_segment_page(request: Request, services: ServicesDep) -> Response:
    require_permission(request, "segments:write")
    return _builder(request, services, builders.NEW_SEGMENT, name=None)


@router.post("/segments/builder/preview")
async def builder_preview(request: Request, services: ServicesDep) -> Response:
    """The live estimate (htmx): the posted document's size and its conditions' sizes."""
    form = await form_of(request)
    lang = pick(request)

    def estimate() -> dict[str, Any]:
        with speaking(lang):
            return _estimate(services.platform, form.get("document", ""))

    result = await run_in_threadpool(estimate)
    return render(request, "segment_estimate.html", {"result": result})


@router.post("/segments/new")
async def create_segment(request: Request, services: ServicesDep) -> Response:
    form = await form_of(request)
    text = form.get("document", "")
    actor = _principal_actor(request)
    try:
        document = builders.parse_document(text)
        saved = await run_in_threadpool(
            lambda: services.platform.segments.create(document, created_by=actor)
        )
    except (ValidationError, NotFoundError, ConflictError) as exc:
        return await _refused(request, services, text, None, exc)
    return RedirectResponse(f"/segments/{saved['name']}", status_code=303)


async def _refused(
    request: Request, services: Any, text: str, name: str | None, error: Exception
) -> Response:
    """The builder again, with the document as posted and the library's error at its path."""
    status = 409 if isinstance(error, ConflictError) else 400
    return await run_in_threadpool(
        lambda: _builder(request, services, text, name=name, error=error, status=status)
    )


@router.get("/segments/{name}/edit")
def edit_segment_page(request: Request, name: str, services: ServicesDep) -> Response:
    require_permission(request, "segments:write")
    try:
        segment = services.platform.segments.show(name)
    except (NotFoundError, ValidationError) as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/segments"}, status=404
        )
    return _builder(request, services, segment["definition"], name=segment["name"], segment=segment)


@router.post("/segments/{name}/edit")
async def update_segment(request: Request, name: str, services: ServicesDep) -> Response:
    form = await form_of(request)
    text = form.get("document", "")
    actor = _principal_actor(request)
    try:
        document = builders.parse_document(text)
        saved = await run_in_threadpool(
            lambda: services.platform.segments.update(name, document, actor=actor)
        )
    except NotFoundError as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/segments"}, status=404
        )
    except (ValidationError, ConflictError) as exc:
        return await _refused(request, services, text, name, exc)
    return RedirectResponse(f"/segments/{saved['name']}", status_code=303)


def _leaf_label(condition: Any) -> str:
    return json.dumps(condition, ensure_ascii=False, default=str)


@router.get("/segments/{name}")
def segment_page(
    request: Request, name: str, services: ServicesDep, profile: str | None = None
) -> Response:
    platform = services.platform
    try:
        segment = platform.segments.show(name)
    except NotFoundError as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/segments"}, status=404
        )
    preview = platform.segments.preview(segment["definition"], sample=0)
    conditions = [
        {"condition": _leaf_label(c.get("condition", c)), **c}
        for c in preview.get("conditions", []) or []
    ]
    why, why_error = None, None
    if profile:
        try:
            who = profile.strip()
            target = who if who.startswith("p_") else identifier_of(who)
            why = platform.segments.why(name, profile=target)
        except (
            ValidationError,
            NotFoundError,
            ProfileNotFoundError,
            AmbiguousIdentifierError,
        ) as exc:
            with speaking(pick(request)):
                why_error, _status = lookup_error(exc)
    trend = platform.segments.trend(name, days=TREND_DAYS)
    if wants_csv(request):
        if table_of(request, "conditions") == "trend":
            columns = ["day", "members", "entered", "exited"]
            return csv_response(trend["points"], columns, f"{name}-trend")
        if table_of(request, "conditions") == "members":
            members = platform.segments.members(name)["profile_ids"]
            return csv_response(
                [{"profile_id": p} for p in members], ["profile_id"], f"{name}-members"
            )
        return csv_response(conditions, ["path", "condition", "size"], f"{name}-conditions")
    return render(
        request,
        "segment.html",
        {
            "segment": segment,
            "preview": preview,
            "conditions": conditions,
            "document": json.dumps(segment["definition"], indent=2, ensure_ascii=False),
            "profile": profile or "",
            "why": why,
            "why_error": why_error,
            "trend": trend,
            "trend_chart": _translated_chart(request, trend["points"]),
        },
    )


def _translated_chart(request: Request, points: list[dict[str, Any]]) -> Any:
    from omnichannel.web.i18n import gettext as _

    with speaking(pick(request)):
        return trend_chart(points, _("Members"), _("Entered"), _("Exited"))
