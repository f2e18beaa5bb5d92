"""Customer 360 and the service desk: a person's card, timeline, segments and journeys, and
recording an interaction with them through the collector's own path."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from omnichannel.api.deps import ServicesDep
from omnichannel.api.services import Services
from omnichannel.errors import ValidationError
from omnichannel.jsonable import trait_value
from omnichannel.privacy.masking import mask_data
from omnichannel.profiles.lookup import AmbiguousIdentifierError, ProfileNotFoundError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.pages.people import identifier_of, lookup_error, masked_for
from omnichannel.web.render import csv_response, form_of, render, wants_csv

router = APIRouter(include_in_schema=False)

TIMELINE_PAGE = 20
INTERACTION_EVENT = "Service Interaction Recorded"
INTERACTION_KINDS = ("call", "email", "chat", "visit", "complaint", "other")
SERVICE_DESK_SOURCE = "service_desk"
TIMELINE_COLUMNS = ["timestamp", "kind", "channel", "source", "type", "event", "status", "id"]


def _words_in_templates() -> None:
    """Labels the templates translate from data (``_(kind)``), for ``pybabel extract``."""
    _("call"), _("email"), _("chat"), _("visit"), _("complaint"), _("other")


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


def _customer(request: Request, services: Services, q: str | None, *, desk: bool) -> Response:
    template = "service_desk.html" if desk else "customer.html"
    desk = desk or masked_for(request)
    context: dict[str, Any] = {"q": q or "", "person": None, "error": None}
    if not q:
        return render(request, template, context)
    try:
        identifier = identifier_of(q)
        person = _person(services, identifier)
        items, cursor = _timeline_page(services, person["card"]["profile_id"], None)
    except (ValidationError, ProfileNotFoundError, AmbiguousIdentifierError) as exc:
        with speaking(pick(request)):
            context["error"], status = lookup_error(exc)
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


@router.get("/customers")
def customers(request: Request, services: ServicesDep, q: str | None = None) -> Response:
    return _customer(request, services, q, desk=False)


@router.get("/service-desk")
def service_desk(request: Request, services: ServicesDep, q: str | None = None) -> Response:
    """Customer 360 as a support agent may see it: contact details masked."""
    return _customer(request, services, q, desk=True)


@router.get("/customers/{profile_id}/timeline")
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
    if desk or masked_for(request):
        items = mask_data(items)
    if wants_csv(request):
        return csv_response(items, TIMELINE_COLUMNS, f"timeline-{profile_id}")
    return render(
        request,
        "timeline_rows.html",
        {"timeline": items, "next_cursor": cursor, "profile_id": profile_id, "desk": desk},
    )


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


@router.post("/service-desk/interactions")
async def record_interaction(request: Request, services: ServicesDep) -> Response:
    """Records what happened with a person as an event, through the collector's own path."""
    from omnichannel.api.ingest_calls import submit_calls

    form = await form_of(request)
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
            message, status = lookup_error(exc)
        return render(
            request, "service_desk.html", {"q": q, "person": None, "error": message}, status=status
        )
    from urllib.parse import quote

    # Back to the person by profile id: the address bar shows no contact detail either.
    target = quote(f"profile_id:{card['profile_id']}", safe="")
    return RedirectResponse(f"/service-desk?q={target}&recorded=1", status_code=303)
