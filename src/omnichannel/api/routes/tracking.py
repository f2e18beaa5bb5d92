"""Links inside messages and the email provider's reports: opens, clicks, unsubscribes, bounces.

The people who follow these links are the recipients, not operators, so the link routes
take no token: each URL carries a signed token (``channels/tracking.py``) naming its
message. Opens and clicks go into the delivery log and, as ``Email Opened`` / ``Email
Link Clicked`` track calls, through the collector's own durable event log
(``platform.engagement``). ``/hooks/email/bounces`` is the provider's: it needs the
email channel's ``bounce_secret`` (Bearer, basic-auth password or ``?token=``) or an
admin token.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import html
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from omnichannel.api.deps import ServicesDep
from omnichannel.api.ingest_calls import dead_letter, emitter, submit_letters
from omnichannel.api.services import Services
from omnichannel.channels.bounces import Refusal, parse_message, parse_reports
from omnichannel.channels.engagement import SOURCE, Emit
from omnichannel.channels.tracking import InvalidLinkError
from omnichannel.errors import NotFoundError, OmniError, ValidationError

log = logging.getLogger(__name__)
router = APIRouter(tags=["tracking"])

# The smallest transparent GIF (43 bytes).
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}
ONE_CLICK = "List-Unsubscribe=One-Click"
BOUNCES_ORIGIN = "POST /hooks/email/bounces"


def collector_emitter(services: Services, origin: str) -> Emit | None:
    """Hand Segment calls to the collector's durable log, as if a source had posted them
    (the source is the message's channel: ``platform.engagement`` names it)."""
    return emitter(services, origin=origin)


def keep_refused(services: Services, refused: Sequence[Refusal]) -> None:
    """Unreadable reports as dead letters (kind ``bounce_report``), through the collector's
    durable log: a provider's report is never just dropped."""
    runtime = services.ingest
    if runtime is None:
        return
    letters = [
        dead_letter(
            source=SOURCE,
            kind="bounce_report",
            origin=BOUNCES_ORIGIN,
            payload=r.payload,
            field=r.place,
            value=r.value,
            reason=r.reason,
        )
        for r in refused
    ]
    submit_letters(runtime, letters, source=SOURCE, origin=BOUNCES_ORIGIN)


def _context(request: Request) -> dict[str, Any]:
    context: dict[str, Any] = {"userAgent": request.headers.get("user-agent", "")}
    if request.client is not None:
        context["ip"] = request.client.host
    return context


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>body{{font:16px/1.5 system-ui,sans-serif;"
        "max-width:32rem;margin:4rem auto;padding:0 1rem}button{font:inherit;padding:.5rem 1rem}"
        f"</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(page, status_code=status, headers=NO_STORE)


def _not_valid(kind: str) -> HTMLResponse:
    return _page(
        "This link is not valid",
        f"<p>This {html.escape(kind)} link is incomplete or was changed. "
        "Try the link in the message again.</p>",
        404,
    )


@router.get(
    "/t/o/{token}",
    response_class=Response,
    summary="Open pixel: records that a message was opened",
    responses={
        200: {"content": {"image/gif": {}}, "description": "A 1x1 transparent GIF."},
        404: {"description": "Not one of our links."},
    },
)
def open_pixel(token: str, request: Request, services: ServicesDep) -> Response:
    """Records ``opened`` (delivery log) and ``Email Opened`` (events); answers a 1x1 GIF."""
    platform = services.platform
    try:
        platform.engagement.opened(
            token, emit=collector_emitter(services, "tracking /t/o"), context=_context(request)
        )
    except InvalidLinkError:
        return Response(PIXEL, status_code=404, media_type="image/gif", headers=NO_STORE)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get(
    "/t/c/{token}",
    response_class=RedirectResponse,
    status_code=302,
    summary="Click redirect: records the click, then sends the browser to the link's target",
    responses={
        302: {"description": "To the URL the message linked to (signed inside the token)."},
        404: {"description": "Not one of our links (an HTML page says so)."},
    },
)
def click_redirect(token: str, request: Request, services: ServicesDep) -> Response:
    """Records ``clicked`` and ``Email Link Clicked``, then 302 to the signed target."""
    try:
        target = services.platform.engagement.clicked(
            token, emit=collector_emitter(services, "tracking /t/c"), context=_context(request)
        )
    except InvalidLinkError:
        return _not_valid("tracked")
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


@router.get(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe page: asks to confirm (a GET never unsubscribes: link scanners fetch it)",
    responses={404: {"description": "Not one of our links, or its message is gone."}},
)
def unsubscribe_page(token: str, services: ServicesDep) -> HTMLResponse:
    try:
        target = services.platform.engagement.unsubscribe_target(token)
    except (InvalidLinkError, NotFoundError):
        return _not_valid("unsubscribe")
    channel = html.escape(str(target["channel"]))
    return _page(
        "Unsubscribe",
        f"<p>Stop {channel} messages to <b>{html.escape(str(target['address']))}</b>?</p>"
        f'<form method=post><input type=hidden name="List-Unsubscribe" value="One-Click">'
        f"<button type=submit>Unsubscribe</button></form>",
    )


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe (RFC 8058 one-click, or the confirmation page's button)",
    responses={404: {"description": "Not one of our links, or its message is gone."}},
)
async def unsubscribe(token: str, request: Request, services: ServicesDep) -> HTMLResponse:
    """Consent becomes ``unsubscribed`` on the message's channel; ``unsubscribed`` is logged.

    Mail clients POST ``List-Unsubscribe=One-Click`` (form-encoded) to the
    ``List-Unsubscribe`` URL; the page's button posts the same.
    """
    from starlette.concurrency import run_in_threadpool

    body = (await request.body()).decode("utf-8", "replace")
    one_click = ONE_CLICK in body.replace("+", " ").replace("%3D", "=")
    engagement = services.platform.engagement
    try:
        done = await run_in_threadpool(
            lambda: engagement.unsubscribe(
                token,
                one_click=one_click,
                emit=collector_emitter(services, "tracking /unsubscribe"),
                context=_context(request),
            )
        )
    except (InvalidLinkError, NotFoundError):
        return _not_valid("unsubscribe")
    return _page(
        "You are unsubscribed",
        f"<p>{html.escape(str(done['address']))} will get no more "
        f"{html.escape(str(done['channel']))} messages from us.</p>",
    )


class RefusedReport(BaseModel):
    field: str = Field(description="Where in the body, e.g. [3].email.")
    value: str
    reason: str = Field(description="What would be accepted.")


class BouncesAnswer(BaseModel):
    bounced: int = Field(description="Bounce reports applied (hard and soft).")
    complained: int = Field(description="Complaints applied.")
    delivered: int = Field(description="Delivery reports recorded.")
    suppressed: int = Field(
        description="Addresses put on the suppression list (hard bounce, complaint)."
    )
    ignored: int = Field(description="Reports of kinds we do not act on (deferred, opens...).")
    refused: list[RefusedReport] = Field(
        description="Reports that could not be read, each with why."
    )


def _authorised(request: Request, services: Services) -> None:
    secret = getattr(services.platform.messages.config.channel("email"), "bounce_secret", None)
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    offered: list[str] = []
    if scheme.lower() == "bearer":
        offered.append(credential.strip())
    elif scheme.lower() == "basic":
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            offered.append(base64.b64decode(credential).decode("utf-8").partition(":")[2])
    if request.query_params.get("token"):
        offered.append(request.query_params["token"])
    if secret and any(hmac.compare_digest(o.encode(), secret.encode()) for o in offered):
        return
    if scheme.lower() == "bearer" and services.admin_tokens().valid(credential.strip()):
        return
    raise _Unauthorised()


class _Unauthorised(OmniError):
    pass


def _json_body(raw: bytes) -> Any:
    import json

    try:
        return json.loads(raw)
    except ValueError:
        shown = raw[:200].decode("utf-8", "replace")
        accepted = "a JSON document, or a bounce email sent as Content-Type: message/rfc822"
        raise ValidationError("(body)", shown, accepted) from None


@router.post(
    "/hooks/email/bounces",
    response_model=BouncesAnswer,
    summary="Bounce and complaint reports from the email provider (SendGrid-style list or SES)",
    responses={401: {"description": "Neither the email bounce_secret nor an admin token."}},
)
async def email_bounces(request: Request, services: ServicesDep) -> Any:
    """Hard bounces and complaints suppress the address; every report is logged in deliveries."""

    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    try:
        await run_in_threadpool(_authorised, request, services)
    except _Unauthorised:
        message = (
            "Authorization is not accepted: expected the email channel's bounce_secret (Bearer, "
            "basic-auth password or ?token=) or an admin token"
        )
        detail = {"field": "Authorization", "value": "(hidden)", "message": message}
        return JSONResponse(
            {"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    raw = await request.body()
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if content_type == "message/rfc822":
            parsed = parse_message(raw)
        else:
            parsed = parse_reports(_json_body(raw))
    except ValidationError as exc:
        whole = raw.decode("utf-8", "replace")
        refusal = Refusal(exc.field, str(exc.value)[:200], exc.accepted, whole)
        await run_in_threadpool(keep_refused, services, [refusal])
        raise
    source = request.query_params.get("provider") or "email provider"
    counts = await run_in_threadpool(
        services.platform.engagement.reports, parsed.reports, source=source
    )
    if parsed.refused:
        log.warning(
            "bounce webhook: %d reports refused (kept in dead letters), first %s",
            len(parsed.refused),
            parsed.refused[0].public(),
        )
        await run_in_threadpool(keep_refused, services, parsed.refused)
    return {
        **counts,
        "ignored": parsed.ignored,
        "refused": [r.public() for r in parsed.refused],
    }
