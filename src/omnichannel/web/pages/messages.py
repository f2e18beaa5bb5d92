"""Messages: the templates per channel, one template previewed for a chosen person (the
send path's own sandboxed renderer), the large sends waiting for approval, and the
delivery log with filters and paging."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from omnichannel.access.permissions import AccessDenied
from omnichannel.api.deps import ServicesDep
from omnichannel.channels.deliveries import EVENTS, LOG_COLUMNS
from omnichannel.channels.registry import CHANNELS
from omnichannel.errors import ConflictError, NotFoundError, OmniError, ValidationError
from omnichannel.privacy.masking import mask_data
from omnichannel.profiles.lookup import AmbiguousIdentifierError, ProfileNotFoundError
from omnichannel.web.i18n import gettext as _
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.pages.people import identifier_of, lookup_error, masked_for
from omnichannel.web.render import csv_response, form_of, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

TEMPLATE_COLUMNS = ["name", "channel", "kind", "version", "description", "updated_at"]
SEND_COLUMNS = [
    "id",
    "status",
    "segment",
    "channel",
    "template",
    "campaign",
    "audience",
    "requested_by",
    "requested_at",
    "decided_by",
]
VERSION_COLUMNS = ["version", "created_by", "created_at"]
LOG_PAGE = 50
LOG_FILTERS = ("channel", "status", "campaign", "journey", "profile")


def _words_in_templates() -> None:
    """Statuses and kinds the templates translate from data, for ``pybabel extract``."""
    _("pending_approval"), _("sending"), _("sent"), _("rejected"), _("marketing")
    _("transactional"), _("queued"), _("held"), _("dropped"), _("delivered"), _("retrying")
    _("failed"), _("bounced"), _("complained"), _("opened"), _("clicked"), _("unsubscribed")
    _("read")


@router.get("/messages")
def messages_page(request: Request, services: ServicesDep) -> Response:
    return _messages(request, services, decided=request.query_params.get("decided"))


def _messages(
    request: Request,
    services: ServicesDep,
    *,
    decided: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    platform = services.platform
    templates = platform.templates.list()
    sends = platform.messages.sends(limit=50)
    if wants_csv(request):
        if table_of(request, "templates") == "sends":
            return csv_response(sends, SEND_COLUMNS, "large-sends")
        return csv_response(templates, TEMPLATE_COLUMNS, "templates")
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for template in templates:
        by_channel.setdefault(template["channel"], []).append(template)
    return render(
        request,
        "messages.html",
        {
            "by_channel": sorted(by_channel.items()),
            "sends": sends,
            "threshold": platform.messages.large_sends.threshold,
            "decided": decided,
            "error": error,
        },
        status=status,
    )


@router.get("/messages/templates/{name}")
def template_page(
    request: Request,
    name: str,
    services: ServicesDep,
    profile: str | None = None,
    version: int | None = None,
) -> Response:
    platform = services.platform
    try:
        template = platform.templates.get(name, version=version)
        versions = platform.templates.versions(name)
    except (NotFoundError, ValidationError) as exc:
        return render(
            request, "not_found.html", {"error": str(exc), "back": "/messages"}, status=404
        )
    if wants_csv(request):
        return csv_response(versions, VERSION_COLUMNS, f"{name}-versions")
    preview, error, status = None, None, 200
    who = (profile or "").strip()
    try:
        target = identifier_of(who) if who else None
        preview = platform.templates.preview(name, profile=target, version=version)
    except (ProfileNotFoundError, AmbiguousIdentifierError, ValidationError) as exc:
        # ValidationError here is the renderer's TemplateError too: the part, the line and
        # the variable this person's data lacks (what the send path would drop it for).
        with speaking(pick(request)):
            error, status = lookup_error(exc)
    if preview is not None and masked_for(request):
        preview = mask_data(preview)
    return render(
        request,
        "message_template.html",
        {
            "template": template,
            "versions": versions,
            "profile": who,
            "preview": preview,
            "error": error,
        },
        status=status if who else 200,
    )


def _log_filters(request: Request) -> dict[str, str]:
    return {k: v for k in LOG_FILTERS if (v := request.query_params.get(k, "").strip())}


@router.get("/messages/log")
def delivery_log_page(request: Request, services: ServicesDep) -> Response:
    filters = _log_filters(request)
    try:
        page_number = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page_number = 1
    limit = 1000 if wants_csv(request) else LOG_PAGE
    offset = (page_number - 1) * LOG_PAGE
    error: str | None = None
    result: dict[str, Any] = {"rows": [], "total": 0}
    try:
        result = services.platform.messages.deliveries(
            channel=filters.get("channel"),
            status=filters.get("status"),
            campaign=filters.get("campaign"),
            journey=filters.get("journey"),
            profile_id=filters.get("profile"),
            limit=limit,
            offset=offset,
        )
    except (ValidationError, NotFoundError) as exc:
        error = str(exc)
    rows = result["rows"]
    if masked_for(request):
        rows = mask_data(rows)
    if wants_csv(request):
        if error:
            return Response(error, status_code=400, media_type="text/plain")
        return csv_response(rows, list(LOG_COLUMNS), "delivery-log")
    total = int(result["total"])
    pages = max(1, -(-total // LOG_PAGE))

    def page_link(number: int) -> str:
        from urllib.parse import urlencode

        return "/messages/log?" + urlencode({**filters, "page": number})

    return render(
        request,
        "message_log.html",
        {
            "rows": rows,
            "total": total,
            "filters": filters,
            "channels": CHANNELS,
            "steps": EVENTS,
            "page": page_number,
            "pages": pages,
            "first_row": offset + 1 if rows else 0,
            "last_row": offset + len(rows),
            "previous_link": page_link(page_number - 1) if page_number > 1 else None,
            "next_link": page_link(page_number + 1) if page_number < pages else None,
            "error": error,
        },
        status=400 if error else 200,
    )


async def _decide(request: Request, services: ServicesDep, send_id: int, verb: str) -> Response:
    """Approve or reject a large send from the page: the same library call as the API."""
    form = await form_of(request)
    actor = request.state.principal.actor
    decide = getattr(services.platform.messages, f"{verb}_send")
    note = form.get("note", "")
    try:
        await run_in_threadpool(lambda: decide(send_id, actor=actor, note=note))
    except OmniError as exc:
        message = str(exc)
        code = _STATUS.get(type(exc), 400)
        return await run_in_threadpool(
            lambda: _messages(request, services, error=message, status=code)
        )
    return RedirectResponse(f"/messages?decided={send_id}#sends", status_code=303)


_STATUS: dict[type, int] = {ConflictError: 409, NotFoundError: 404, AccessDenied: 403}


@router.post("/messages/sends/{send_id}/approve")
async def approve_send(request: Request, services: ServicesDep, send_id: int) -> Response:
    return await _decide(request, services, send_id, "approve")


@router.post("/messages/sends/{send_id}/reject")
async def reject_send(request: Request, services: ServicesDep, send_id: int) -> Response:
    return await _decide(request, services, send_id, "reject")
