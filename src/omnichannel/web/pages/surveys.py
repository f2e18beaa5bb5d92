"""Surveys: NPS, CSAT or CES over time by channel, store or segment, with intervals, the
response rate, before against after a change, and what the free text says (``/surveys``).

Everything comes from ``platform.surveys`` (``results``, ``text``, ``responses``), what
``omni surveys`` and ``/api/surveys`` call; every table has its CSV (``?format=csv&
table=groups|trend|text|responses|surveys``). The page changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omnichannel.api.deps import ServicesDep
from omnichannel.errors import OmniError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.render import csv_response, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

GROUP_COLUMNS = [
    "group",
    "value",
    "low",
    "high",
    "responded",
    "invited",
    "response_rate",
    "rate_low",
    "rate_high",
    "completed",
]
TREND_COLUMNS = ["group", "period", *GROUP_COLUMNS[1:]]
TEXT_COLUMNS = ["group", "answers", "sentiment", "positive", "neutral", "negative", "keywords"]
RESPONSE_COLUMNS = [
    "response_id",
    "started_at",
    "completed_at",
    "channel",
    "store",
    "campaign",
    "profile_id",
    "score",
    "category",
    "text",
    "lang",
    "version",
]
SURVEY_COLUMNS = ["name", "kind", "version", "invited", "answered", "completed"]
BY_CHOICES = ("channel", "store", "campaign", "segment")


def _chart(trend: list[dict[str, Any]], figure: str) -> dict[str, Any]:
    """An ECharts option: the figure per period and group, the overall one with its band."""
    periods = sorted({t["period"] for t in trend})
    groups = list(dict.fromkeys(t["group"] for t in trend))
    at = {(t["group"], t["period"]): t for t in trend}
    series: list[dict[str, Any]] = []
    for group in groups:
        series.append(
            {
                "name": group,
                "type": "line",
                "connectNulls": True,
                "data": [at.get((group, p), {}).get("value") for p in periods],
            }
        )
    overall = [at.get(("all", p), {}) for p in periods]
    for edge in ("low", "high"):
        series.append(
            {
                "name": f"all {edge} (95%)",
                "type": "line",
                "lineStyle": {"type": "dashed", "width": 1},
                "symbol": "none",
                "data": [o.get(edge) for o in overall],
            }
        )
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll"},
        "xAxis": {"type": "category", "data": periods},
        "yAxis": {"type": "value", "name": figure.upper()},
        "series": series,
    }


@router.get("/surveys")
def surveys_page(request: Request, services: ServicesDep) -> Response:
    platform = services.platform
    q = request.query_params
    surveys = platform.surveys.list()
    names = [s["name"] for s in surveys]
    name = q.get("survey") or (names[0] if names else "")
    by = q.get("by") or "channel"
    period = q.get("period") or "week"
    segments = [s for s in q.getlist("segment") if s.strip()]
    change = q.get("change") or None
    text_by = q.get("text_by") or "store"
    if by == "segment" and not segments:
        by = "channel"
    results = text = None
    responses: list[dict[str, Any]] = []
    error = None
    if name in names:
        try:
            results = platform.surveys.results(
                name, by=by, period=period, segments=segments, change=change
            )
            text = platform.surveys.text(name, by=text_by, period="month")
            responses = platform.surveys.responses(name, limit=1000)
        except OmniError as exc:
            error = str(exc)
    elif name:
        error = _("No survey named %(name)s.") % {"name": name}
    if wants_csv(request):
        table = table_of(request, "groups")
        if table == "surveys":
            return csv_response(surveys, SURVEY_COLUMNS, "surveys")
        if table == "trend":
            return csv_response(results["trend"] if results else [], TREND_COLUMNS, f"{name}-trend")
        if table == "text":
            rows = [
                {**g, "keywords": ", ".join(k["word"] for k in g["keywords"])}
                for g in (text["groups"] if text else [])
            ]
            return csv_response(rows, TEXT_COLUMNS, f"{name}-text")
        if table == "responses":
            return csv_response(responses, RESPONSE_COLUMNS, f"{name}-responses")
        rows = [{"group": "all", **results["overall"]}, *results["groups"]] if results else []
        return csv_response(rows, GROUP_COLUMNS, f"{name}-by-{by}")
    return render(
        request,
        "surveys.html",
        {
            "title": _("Surveys"),
            "surveys": surveys,
            "name": name,
            "by": by,
            "by_choices": BY_CHOICES,
            "period": period,
            "segments": segments,
            "segment_names": [s["name"] for s in platform.segments.list()],
            "change": change or "",
            "text_by": text_by,
            "results": results,
            "text": text,
            "responses": responses[:20],
            "chart": _chart(results["trend"], results["figure"])
            if results and results["trend"]
            else None,
            "error": error,
        },
    )
