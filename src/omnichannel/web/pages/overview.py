"""The Overview: data assets (sources, volumes, freshness, reject rates, loader lag) and
people, interactions and revenue per channel over time."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omnichannel.api.deps import ServicesDep
from omnichannel.api.services import Services
from omnichannel.errors import OmniError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.render import csv_response, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

ACTIVITY_KPIS = ("reach", "interactions", "revenue")


def _data_assets(services: Services) -> dict[str, Any]:
    """Sources, volumes, freshness, reject rates and loader lag: what status, /metrics and
    the collector know."""
    from omnichannel.ingest.sources import list_sources
    from omnichannel.ingest.stats import event_stats

    status = services.platform.status()
    with services.warehouse() as wh:
        stats = event_stats(wh)
    with services.opstore().session() as session:
        registered = {info.name: info.public() for info in list_sources(session)}
    per_source: dict[str, dict[str, Any]] = {}
    for row in stats["events"]["by_source_and_type"]:
        entry = per_source.setdefault(
            row["source"], {"source": row["source"], "events": 0, "last_received_at": None}
        )
        entry["events"] += int(row["events"])
        last = row["last_received_at"]
        if last is not None and (
            entry["last_received_at"] is None or last > entry["last_received_at"]
        ):
            entry["last_received_at"] = last
    for row in stats["dead_letters"]["by_source_and_reason"]:
        entry = per_source.setdefault(
            row["source"], {"source": row["source"], "events": 0, "last_received_at": None}
        )
        entry["dead_letters"] = entry.get("dead_letters", 0) + int(row["dead_letters"])
    for name, info in registered.items():
        per_source.setdefault(name, {"source": name, "events": 0, "last_received_at": None})
        per_source[name]["kind"] = info.get("kind")
    sources = []
    for entry in sorted(per_source.values(), key=lambda e: -e["events"]):
        letters = entry.get("dead_letters", 0)
        seen = entry["events"] + letters
        entry["dead_letters"] = letters
        entry["reject_rate"] = letters / seen if seen else None
        entry["registered"] = entry["source"] in registered
        sources.append(entry)
    loader: dict[str, Any] = {}
    if services.ingest is not None:
        loader = dict(services.ingest.loader.health())
    tables = [{"table": name, "rows": rows} for name, rows in status["warehouse"]["tables"].items()]
    return {"status": status, "sources": sources, "tables": tables, "loader": loader}


@router.get("/")
def overview(request: Request, services: ServicesDep) -> Response:
    error = None
    assets: dict[str, Any] = {"sources": [], "tables": [], "loader": {}, "status": {}}
    try:
        assets = _data_assets(services)
    except OmniError as exc:
        error = str(exc)
    if wants_csv(request):
        if table_of(request, "sources") == "tables":
            return csv_response(assets["tables"], ["table", "rows"], "tables")
        columns = ["source", "kind", "events", "dead_letters", "reject_rate", "last_received_at"]
        return csv_response(assets["sources"], columns, "sources")
    return render(request, "overview.html", {**assets, "error": error})


def _activity(services: Services) -> dict[str, Any]:
    answer = services.platform.kpis.run(list(ACTIVITY_KPIS), by=["channel"], period="month")
    periods = sorted({str(row["period"])[:10] for row in answer["rows"]})
    channels = sorted({str(row["group"].get("channel") or "") for row in answer["rows"]})
    cells: dict[tuple[str, str, str], float] = {}
    flat = []
    for row in answer["rows"]:
        channel = str(row["group"].get("channel") or "")
        period = str(row["period"])[:10]
        record: dict[str, Any] = {"period": period, "channel": channel or None}
        for kpi in ACTIVITY_KPIS:
            value = row["kpis"].get(kpi, {}).get("value")
            cells[(kpi, channel, period)] = float(value or 0)
            record[kpi] = value
        flat.append(record)
    return {"periods": periods, "channels": channels, "cells": cells, "rows": flat}


def _activity_charts(activity: dict[str, Any]) -> list[dict[str, Any]]:
    titles = {
        "reach": _("People reached"),
        "interactions": _("Interactions"),
        "revenue": _("Revenue"),
    }
    charts = []
    for kpi in ACTIVITY_KPIS:
        series = [
            {
                "name": channel or _("no channel"),
                "type": "bar" if kpi == "revenue" else "line",
                "stack": "total" if kpi == "revenue" else None,
                "data": [activity["cells"].get((kpi, channel, p), 0) for p in activity["periods"]],
            }
            for channel in activity["channels"]
        ]
        charts.append(
            {
                "id": f"chart-{kpi}",
                "title": titles[kpi],
                "option": {
                    "tooltip": {"trigger": "axis"},
                    "legend": {"type": "scroll", "bottom": 0},
                    "grid": {"left": 56, "right": 16, "top": 24, "bottom": 48},
                    "xAxis": {"type": "category", "data": activity["periods"]},
                    "yAxis": {"type": "value"},
                    "series": series,
                },
            }
        )
    return charts


@router.get("/overview/activity")
def overview_activity(request: Request, services: ServicesDep) -> Response:
    """The per-channel charts (an htmx fragment of the Overview; CSV with ``?format=csv``)."""
    error = None
    activity: dict[str, Any] = {"periods": [], "channels": [], "cells": {}, "rows": []}
    try:
        activity = _activity(services)
    except OmniError as exc:
        error = str(exc)
    if wants_csv(request):
        return csv_response(activity["rows"], ["period", "channel", *ACTIVITY_KPIS], "activity")
    with speaking(pick(request)):
        charts = _activity_charts(activity)
    return render(
        request,
        "overview_activity.html",
        {"charts": charts, "rows": activity["rows"], "error": error},
    )
