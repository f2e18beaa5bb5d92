"""Journeys: the list, and one journey drawn as a graph with counts per step and route."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omnichannel.api.deps import ServicesDep
from omnichannel.errors import NotFoundError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.render import csv_response, render, wants_csv

router = APIRouter(include_in_schema=False)


def _words_in_templates() -> None:
    """Journey statuses, which the templates translate from data, for ``pybabel extract``."""
    _("draft"), _("approved"), _("live"), _("paused"), _("archived")


JOURNEY_COLUMNS = ["name", "status", "version", "live_version", "entry", "enrolled", "in_flight"]


@router.get("/journeys")
def journeys_page(request: Request, services: ServicesDep) -> Response:
    rows = services.platform.journeys.list()
    if wants_csv(request):
        return csv_response(rows, JOURNEY_COLUMNS, "journeys")
    return render(request, "journeys.html", {"journeys": rows})


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
                "y": row * 120,
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
    return render(
        request,
        "journey.html",
        {
            "journey": journey,
            "stats": stats,
            "graph": journey_graph(definition, stats),
            "document": json.dumps(definition, indent=2, ensure_ascii=False),
        },
    )
