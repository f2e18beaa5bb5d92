"""Journeys: the list; one journey drawn as a graph with counts per step and route, with
its lifecycle buttons (approve, start, pause, resume, archive: each the library's move, so
the two-person rule and the status checks are the library's); the editor
(``/journeys/new``, ``/journeys/<name>/edit``: a form generated from the journey schema
beside the JSON, validated live by ``/journeys/builder/validate``); the dry run
(``/journeys/<name>/simulate?days=N``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from omnichannel.access.permissions import AccessDenied
from omnichannel.api.deps import ServicesDep
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.journeys.service import ENTRY_KINDS
from omnichannel.web import builders
from omnichannel.web.i18n import gettext as _
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.pages.people import require_permission
from omnichannel.web.render import csv_response, form_of, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)


def _words_in_templates() -> None:
    """Journey statuses, which the templates translate from data, for ``pybabel extract``."""
    _("draft"), _("approved"), _("live"), _("paused"), _("archived")
    _("approve"), _("start"), _("pause"), _("resume"), _("archive")
    _("event"), _("segment"), _("date"), _("schedule")  # entry kinds


JOURNEY_COLUMNS = ["name", "status", "version", "live_version", "entry", "enrolled", "in_flight"]


# Lifecycle moves a page may ask for, and the permission each needs (access/web.py's).
LIFECYCLE = {
    "approve": "journeys:approve",
    "start": "journeys:operate",
    "pause": "journeys:operate",
    "resume": "journeys:operate",
    "archive": "journeys:operate",
}
SIMULATE_DAYS = 7


@router.get("/journeys")
def journeys_page(request: Request, services: ServicesDep) -> Response:
    rows = services.platform.journeys.list()
    if wants_csv(request):
        return csv_response(rows, JOURNEY_COLUMNS, "journeys")
    return render(request, "journeys.html", {"journeys": rows})


def _actor(request: Request) -> str:
    user = getattr(request.state, "principal", None)
    return str(getattr(user, "actor", None) or "web")


def _failed(error: Exception) -> dict[str, Any]:
    field = getattr(error, "field", "")
    return {"error": str(error), "error_path": "" if field == "document" else field}


def _validation(platform: Any, text: str) -> dict[str, Any]:
    """The live check's content: what the document uses when it passes, else the error."""
    try:
        summary = platform.journeys.validate(builders.parse_document(text))
    except (ValidationError, NotFoundError) as exc:
        return _failed(exc)
    return {"summary": summary}


def _editor(
    request: Request,
    services: Any,
    document: dict[str, Any] | str,
    *,
    name: str | None,
    journey: dict[str, Any] | None = None,
    error: Exception | None = None,
    status: int = 200,
) -> Response:
    platform = services.platform
    if name and journey is None:
        journey = platform.journeys.show(name)
    text = document if isinstance(document, str) else builders.pretty(document)
    with speaking(pick(request)):
        labels = builders.labels()
    return render(
        request,
        "journey_editor.html",
        {
            "name": name,
            "journey": journey,
            "document": text,
            "schema": builders.journey_schema(),
            "hints": builders.journey_hints(platform, own=name),
            "labels": labels,
            "fixed": ["name"] if name else [],
            "exclusive": {"entry": list(ENTRY_KINDS)},  # exactly one of them
            "result": _validation(platform, text) if error is None else _failed(error),
        },
        status=status,
    )


async def _refused(
    request: Request, services: Any, text: str, name: str | None, error: Exception
) -> Response:
    """The editor again, with the document as posted and the library's error at its path."""
    status = 409 if isinstance(error, ConflictError) else 400
    return await run_in_threadpool(
        lambda: _editor(request, services, text, name=name, error=error, status=status)
    )


@router.get("/journeys/new")
def new_journey_page(request: Request, services: ServicesDep) -> Response:
    require_permission(request, "journeys:write")
    return _editor(request, services, builders.NEW_JOURNEY, name=None)


@router.post("/journeys/builder/validate")
async def builder_validate(request: Request, services: ServicesDep) -> Response:
    """The live check (htmx): the posted document against the schema and the installation."""
    form = await form_of(request)
    result = await run_in_threadpool(_validation, services.platform, form.get("document", ""))
    return render(request, "journey_validation.html", {"result": result})


@router.post("/journeys/new")
async def create_journey(request: Request, services: ServicesDep) -> Response:
    form = await form_of(request)
    text, actor = form.get("document", ""), _actor(request)
    try:
        document = builders.parse_document(text)
        saved = await run_in_threadpool(
            lambda: services.platform.journeys.create(document, actor=actor)
        )
    except (ValidationError, NotFoundError, ConflictError) as exc:
        return await _refused(request, services, text, None, exc)
    return RedirectResponse(f"/journeys/{saved['name']}?done=save", status_code=303)


@router.get("/journeys/{name}/edit")
def edit_journey_page(request: Request, name: str, services: ServicesDep) -> Response:
    require_permission(request, "journeys:write")
    try:
        journey = services.platform.journeys.show(name)
    except (NotFoundError, ValidationError) as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/journeys"}, status=404
        )
    return _editor(request, services, journey["definition"], name=journey["name"], journey=journey)


@router.post("/journeys/{name}/edit")
async def save_journey(request: Request, name: str, services: ServicesDep) -> Response:
    form = await form_of(request)
    text, actor = form.get("document", ""), _actor(request)
    try:
        document = builders.parse_document(text)
        await run_in_threadpool(
            lambda: services.platform.journeys.save(name, document, actor=actor)
        )
    except NotFoundError as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/journeys"}, status=404
        )
    except (ValidationError, ConflictError) as exc:
        return await _refused(request, services, text, name, exc)
    return RedirectResponse(f"/journeys/{name}?done=save", status_code=303)


@router.get("/journeys/{name}/simulate")
def simulate_page(
    request: Request, name: str, services: ServicesDep, days: str = str(SIMULATE_DAYS)
) -> Response:
    """The dry run of the newest version over the last ``days`` of events."""
    platform = services.platform
    try:
        journey = platform.journeys.show(name)
    except (NotFoundError, ValidationError) as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/journeys"}, status=404
        )
    result, error = None, None
    try:
        wanted = int(days)
    except ValueError:
        wanted, error = (
            SIMULATE_DAYS,
            str(ValidationError("days", days, "a whole number of days from 1 to 366")),
        )
    if error is None:
        try:
            if not 1 <= wanted <= 366:
                raise ValidationError("days", wanted, "a whole number of days from 1 to 366")
            result = platform.journeys.simulate(name, days=wanted)
        except ValidationError as exc:
            error = str(exc)
    if wants_csv(request) and result is not None:
        if table_of(request, "steps") == "sends":
            columns = ["step", "channel", "template", "would_send", "no_address", "no_profile"]
            return csv_response(result["sends"], columns, f"{name}-simulated-sends")
        columns = ["step", "kind", "reached", "routes", "waiting"]
        return csv_response(result["steps"], columns, f"{name}-simulated-steps")
    return render(
        request,
        "journey_simulate.html",
        {"journey": journey, "result": result, "error": error, "days": wanted},
        status=400 if error else 200,
    )


@router.post("/journeys/{name}/{action}")
def lifecycle_action(request: Request, name: str, action: str, services: ServicesDep) -> Response:
    """Approve, start, pause, resume or archive: the library decides (status, two people)."""
    if action not in LIFECYCLE:
        return render(
            request,
            "not_found.html",
            {"error": f"no journey action {action!r}", "back": f"/journeys/{name}"},
            status=404,
        )
    move = getattr(services.platform.journeys, action)
    try:
        move(name, actor=_actor(request))
    except NotFoundError as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/journeys"}, status=404
        )
    except (ValidationError, ConflictError, AccessDenied) as exc:
        status = {ConflictError: 409, AccessDenied: 403}.get(type(exc), 400)
        return _journey_view(request, name, services, error=str(exc), status=status)
    return RedirectResponse(f"/journeys/{name}?done={action}", status_code=303)


def journey_graph(definition: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """An ECharts graph option: a node per step (its count), an edge per route (its count),
    laid out in columns by distance from the start step."""
    from omnichannel.journeys.definition import parse_journey, routes, step_kind

    parsed = parse_journey(definition)
    executed = {s["step"]: s for s in stats.get("steps", [])}
    where: dict[str, dict[str, str]] = {
        name: {route: target for route, target in routes(step).items() if target}
        for name, step in parsed.steps.items()
    }
    depth: dict[str, int] = {}
    frontier, level = [parsed.start], 0
    while frontier:
        following: list[str] = []
        for name in frontier:
            if name in depth:
                continue
            depth[name] = level
            following.extend(where.get(name, {}).values())
        frontier, level = following, level + 1
    for name in parsed.steps:
        depth.setdefault(name, level)
    rows: dict[int, int] = {}
    nodes = []
    for name, step in parsed.steps.items():
        col = depth[name]
        row = rows.get(col, 0)
        rows[col] = row + 1
        count = executed.get(name, {}).get("executed", 0)
        kind = step_kind(step)
        nodes.append(
            {
                "name": name,
                "x": col * 240,
                # Alternate columns a little apart: a graph all on one line has no height,
                # which ECharts cannot scale to its box.
                "y": row * 120 + (col % 2) * 40,
                "value": count,
                "symbolSize": 44,
                "category": kind,
                "label": {"show": True, "formatter": f"{name}\n{kind} · {count}"},
            }
        )
    links = []
    for name, targets in where.items():
        outcomes = executed.get(name, {}).get("outcomes", {})
        for route, target in targets.items():
            n = outcomes.get(route, sum(outcomes.values()) if route == "next" else 0)
            links.append(
                {
                    "source": name,
                    "target": target,
                    "value": n,
                    "label": {"show": True, "formatter": f"{route} · {n}"},
                }
            )
    categories = sorted({str(n["category"]) for n in nodes})
    return {
        "tooltip": {},
        "legend": {"data": categories, "bottom": 0},
        "series": [
            {
                "type": "graph",
                "layout": "none",
                "roam": True,
                "edgeSymbol": ["none", "arrow"],
                "edgeSymbolSize": 9,
                "categories": [{"name": c} for c in categories],
                "top": 40,
                "bottom": 70,
                "left": 90,
                "right": 90,
                "label": {"position": "bottom", "lineHeight": 16},
                "edgeLabel": {"show": True},
                "lineStyle": {"width": 2, "curveness": 0},
                "data": nodes,
                "links": links,
            }
        ],
    }


@router.get("/journeys/{name}")
def journey_page(request: Request, name: str, services: ServicesDep) -> Response:
    return _journey_view(request, name, services)


def _journey_view(
    request: Request, name: str, services: Any, *, error: str | None = None, status: int = 200
) -> Response:
    platform = services.platform
    try:
        journey = platform.journeys.show(name)
    except NotFoundError as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/journeys"}, status=404
        )
    stats = platform.journeys.stats(name)
    definition = journey.get("live_definition") or journey["definition"]
    if wants_csv(request):
        rows = [{**s, "outcomes": s.get("outcomes", {})} for s in stats.get("steps", [])]
        return csv_response(rows, ["step", "kind", "executed", "outcomes"], f"{name}-steps")
    user = getattr(request.state, "principal", None)
    actions = [
        a
        for a in journey["actions"]
        if a in LIFECYCLE
        and user is not None
        and user.can(LIFECYCLE[a])
        and (a != "approve" or journey["pending_approval"])  # nothing new to approve
    ]
    done = request.query_params.get("done")
    return render(
        request,
        "journey.html",
        {
            "journey": journey,
            "stats": stats,
            "graph": journey_graph(definition, stats),
            "document": json.dumps(definition, indent=2, ensure_ascii=False),
            "actions": actions,
            "done": done if done in (*LIFECYCLE, "save") else None,
            "error": error,
        },
        status=status,
    )
