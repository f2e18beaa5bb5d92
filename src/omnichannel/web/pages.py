"""The dashboard's pages: Overview, Customer 360, service desk, Segments, Journeys.

Each page calls the library layer the API routes call (``platform.*``, the profile
lookup and timeline, ``event_stats``, the collector's ``submit_calls``), never SQL of its
own. Every table has a CSV export on the page's own route (``?format=csv``, and
``&table=<id>`` when the page has several). The page routers are gathered in ``router``
(end of this module), which ``api/app.py`` mounts with the access layer's sign-in check.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.api.services import Services
from omnichannel.errors import NotFoundError, OmniError, ValidationError
from omnichannel.jsonable import trait_value
from omnichannel.privacy.masking import mask_data
from omnichannel.profiles.lookup import AmbiguousIdentifierError, ProfileNotFoundError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.render import csv_response, render, wants_csv

overview_router = APIRouter(include_in_schema=False)
customers_router = APIRouter(include_in_schema=False)
segments_router = APIRouter(include_in_schema=False)
journeys_router = APIRouter(include_in_schema=False)
ROUTERS = (overview_router, customers_router, segments_router, journeys_router)
# Every page in one router: api/app.py mounts it once, with the sign-in dependency.
router = APIRouter(include_in_schema=False)

TIMELINE_PAGE = 20
ACTIVITY_KPIS = ("reach", "interactions", "revenue")
INTERACTION_EVENT = "Service Interaction Recorded"
INTERACTION_KINDS = ("call", "email", "chat", "visit", "complaint", "other")
SERVICE_DESK_SOURCE = "service_desk"


def _words_in_templates() -> None:
    """Labels the templates translate from data (``_(kind)``), for ``pybabel extract``."""
    _("call"), _("email"), _("chat"), _("visit"), _("complaint"), _("other")
    _("draft"), _("approved"), _("live"), _("paused"), _("archived")


def _table(request: Request, default: str) -> str:
    return request.query_params.get("table") or default


# --- Overview -----------------------------------------------------------------------------


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


@overview_router.get("/")
def overview(request: Request, services: ServicesDep) -> Response:
    error = None
    assets: dict[str, Any] = {"sources": [], "tables": [], "loader": {}, "status": {}}
    try:
        assets = _data_assets(services)
    except OmniError as exc:
        error = str(exc)
    if wants_csv(request):
        if _table(request, "sources") == "tables":
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


@overview_router.get("/overview/activity")
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


# --- Customer 360 and the service desk ------------------------------------------------------


def identifier_of(query: str) -> str:
    """``TYPE:VALUE`` for what a person typed: an email, a phone, a profile id, a user id."""
    text = query.strip()
    if not text:
        raise ValidationError("q", query, "an email, a phone number, a user id or TYPE:VALUE")
    kind, sep, _rest = text.partition(":")
    if sep and kind.isidentifier():
        return text
    if "@" in text:
        return f"email:{text}"
    if text.startswith("p_"):
        return f"profile_id:{text}"
    digits = text.replace(" ", "").replace("-", "")
    if digits.lstrip("+").isdigit() and len(digits.lstrip("+")) >= 7:
        return f"phone:{digits}"
    return f"user_id:{text}"


def _memberships(services: Services, profile_id: str) -> dict[str, list[dict[str, Any]]]:
    platform = services.platform
    segments = []
    for segment in platform.segments.list():
        members = platform.segments.members(segment["name"])["profile_ids"]
        if profile_id in members:
            segments.append({"name": segment["name"], "description": segment.get("description")})
    journeys = []
    for journey in platform.journeys.list():
        listed = platform.journeys.enrolments(journey["name"], limit=1000)["enrolments"]
        for enrolment in listed:
            if enrolment["profile_id"] == profile_id:
                journeys.append({"journey": journey["name"], **enrolment})
    return {"segments": segments, "journeys": journeys}


def _timeline_page(
    services: Services, profile_id: str, cursor: str | None, limit: int = TIMELINE_PAGE
) -> tuple[list[dict[str, Any]], str | None]:
    from omnichannel.profiles.timeline import timeline

    lookup = services.platform.lookup
    with services.warehouse() as wh:
        page = timeline(wh, profile_id, limit=limit, cursor=cursor, **lookup.timeline_options(wh))
    return list(page.items), page.next


def _person(services: Services, identifier: str) -> dict[str, Any]:
    card = services.platform.profiles.card(identifier, recent=1)
    traits = card.get("all_traits", {})
    return {
        "card": card,
        "consent": trait_value(traits.get("consent")),
        **_memberships(services, card["profile_id"]),
    }


def _lookup_error(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, ProfileNotFoundError):
        return _("No profile holds %(identifier)s.") % {"identifier": exc.identifier}, 404
    if isinstance(exc, AmbiguousIdentifierError):
        return (
            _("%(identifier)s is shared by several profiles: %(profiles)s")
            % {"identifier": exc.identifier, "profiles": ", ".join(exc.profiles)},
            409,
        )
    return str(exc), 400


TIMELINE_COLUMNS = ["timestamp", "kind", "channel", "source", "type", "event", "status", "id"]


def _masked(request: Request) -> bool:
    """Whether the signed-in user may not see contact details (the service desk's role)."""
    principal = getattr(request.state, "principal", None)
    return principal is not None and not principal.sees_pii


def _customer(request: Request, services: Services, q: str | None, *, desk: bool) -> Response:
    template = "service_desk.html" if desk else "customer.html"
    desk = desk or _masked(request)
    context: dict[str, Any] = {"q": q or "", "person": None, "error": None}
    if not q:
        return render(request, template, context)
    try:
        identifier = identifier_of(q)
        person = _person(services, identifier)
        items, cursor = _timeline_page(services, person["card"]["profile_id"], None)
    except (ValidationError, ProfileNotFoundError, AmbiguousIdentifierError) as exc:
        with speaking(pick(request)):
            context["error"], status = _lookup_error(exc)
        if wants_csv(request):
            return Response(context["error"], status_code=status, media_type="text/plain")
        return render(request, template, context, status=status)
    if desk:
        person, items = mask_data(person), mask_data(items)
        # The page goes on by profile id: what the agent typed is not echoed back either.
        context["q"] = f"profile_id:{person['card']['profile_id']}"
        context["switch_params"] = {"q": context["q"]}
    if wants_csv(request):
        return csv_response(items, TIMELINE_COLUMNS, f"timeline-{person['card']['profile_id']}")
    context.update(
        person=person,
        identifier=identifier,
        timeline=items,
        next_cursor=cursor,
        recorded=request.query_params.get("recorded"),
        kinds=INTERACTION_KINDS,
    )
    return render(request, template, context)


@customers_router.get("/customers")
def customers(request: Request, services: ServicesDep, q: str | None = None) -> Response:
    return _customer(request, services, q, desk=False)


@customers_router.get("/service-desk")
def service_desk(request: Request, services: ServicesDep, q: str | None = None) -> Response:
    """Customer 360 as a support agent may see it: contact details masked."""
    return _customer(request, services, q, desk=True)


@customers_router.get("/customers/{profile_id}/timeline")
def timeline_fragment(
    request: Request,
    profile_id: str,
    services: ServicesDep,
    next: Annotated[str | None, Query()] = None,
    desk: bool = False,
) -> Response:
    """One more page of the timeline (htmx appends it; CSV with ``?format=csv``)."""
    try:
        items, cursor = _timeline_page(services, profile_id, next)
    except ValidationError as exc:
        return render(request, "error.html", {"error": str(exc)}, status=400)
    if desk or _masked(request):
        items = mask_data(items)
    if wants_csv(request):
        return csv_response(items, TIMELINE_COLUMNS, f"timeline-{profile_id}")
    return render(
        request,
        "timeline_rows.html",
        {"timeline": items, "next_cursor": cursor, "profile_id": profile_id, "desk": desk},
    )


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def interaction_call(card: dict[str, Any], kind: str, note: str, agent: str) -> dict[str, Any]:
    """The Segment ``track`` call that records a service-desk interaction with a person."""
    if kind not in INTERACTION_KINDS:
        raise ValidationError("kind", kind, "one of " + ", ".join(INTERACTION_KINDS))
    if not note.strip():
        raise ValidationError("note", note, "a few words on what happened")
    ids = card.get("identifiers", {})
    call: dict[str, Any] = {
        "type": "track",
        "event": INTERACTION_EVENT,
        "messageId": uuid.uuid4().hex,
        "properties": {"kind": kind, "note": note.strip()[:2000], "agent": agent},
        "context": {"channel": "service_desk"},
    }
    if ids.get("user_id"):
        call["userId"] = ids["user_id"][0]
    elif ids.get("anonymous_id"):
        call["anonymousId"] = ids["anonymous_id"][0]
    else:
        raise ValidationError(
            "q", card.get("looked_up"), "a person with a user id or an anonymous id to record on"
        )
    if ids.get("email"):
        call["context"]["traits"] = {"email": ids["email"][0]}
    return call


@customers_router.post("/service-desk/interactions")
async def record_interaction(request: Request, services: ServicesDep) -> Response:
    """Records what happened with a person as an event, through the collector's own path."""
    from omnichannel.api.ingest_calls import submit_calls

    form = await _form(request)
    q = form.get("q", "")
    runtime = services.ingest
    try:
        if runtime is None:
            raise ValidationError("server", "not collecting", "a running omni serve")
        identifier = identifier_of(q)
        card = await run_in_threadpool(services.platform.profiles.card, identifier, recent=1)
        user = getattr(request.state, "principal", None)
        agent = getattr(user, "actor", None) or "web"
        call = interaction_call(card, form.get("kind", ""), form.get("note", ""), agent)
        await run_in_threadpool(
            lambda: submit_calls(
                runtime, [call], source=SERVICE_DESK_SOURCE, origin="web /service-desk"
            )
        )
    except (ValidationError, ProfileNotFoundError, AmbiguousIdentifierError) as exc:
        with speaking(pick(request)):
            message, status = _lookup_error(exc)
        return render(
            request, "service_desk.html", {"q": q, "person": None, "error": message}, status=status
        )
    from urllib.parse import quote

    # Back to the person by profile id: the address bar shows no contact detail either.
    target = quote(f"profile_id:{card['profile_id']}", safe="")
    return RedirectResponse(f"/service-desk?q={target}&recorded=1", status_code=303)


# --- Segments -------------------------------------------------------------------------------

SEGMENT_COLUMNS = ["name", "description", "version", "members", "updated_at", "created_by"]


@segments_router.get("/segments")
def segments_page(request: Request, services: ServicesDep) -> Response:
    rows = services.platform.segments.list()
    if wants_csv(request):
        return csv_response(rows, SEGMENT_COLUMNS, "segments")
    return render(request, "segments.html", {"segments": rows})


def _leaf_label(condition: Any) -> str:
    return json.dumps(condition, ensure_ascii=False, default=str)


@segments_router.get("/segments/{name}")
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
                why_error, _status = _lookup_error(exc)
    if wants_csv(request):
        if _table(request, "conditions") == "members":
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
        },
    )


# --- Journeys -------------------------------------------------------------------------------

JOURNEY_COLUMNS = ["name", "status", "version", "live_version", "entry", "enrolled", "in_flight"]


@journeys_router.get("/journeys")
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


@journeys_router.get("/journeys/{name}")
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


for _page_router in ROUTERS:
    router.include_router(_page_router)
