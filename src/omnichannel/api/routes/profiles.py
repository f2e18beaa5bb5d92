"""Profile API, modelled on Segment's: one person's traits, identifiers, timeline and paths.

Every route takes the person as ``TYPE:VALUE`` (``email:ann@example.com``, ``user_id:u1``,
``phone:13812345678``, ``profile_id:p_...``); the value is normalised like ingestion
normalises it. Errors: 400 names the field (a malformed identifier, an unknown type, a
bad parameter), 404 names the identifier no profile holds, 409 lists the profiles that
share a refused identifier.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic_core import to_json

from omnichannel.access.api import MaskingRoute
from omnichannel.api.deps import ServicesDep
from omnichannel.errors import ValidationError
from omnichannel.jsonable import trait_value
from omnichannel.profiles.lookup import (
    AmbiguousIdentifierError,
    ProfileLookup,
    ProfileNotFoundError,
    external_ids,
)
from omnichannel.profiles.timeline import KINDS, MAX_LIMIT, conversion_paths, timeline

# Emails and phones masked for roles without profiles:read_pii (the service desk).
router = APIRouter(prefix="/v1/profiles", tags=["profiles"], route_class=MaskingRoute)
T = TypeVar("T")


def _lookup(request: Request, services: ServicesDep) -> ProfileLookup:
    """The installation's one ``ProfileLookup`` (its in-memory index serves every request)."""
    return services.platform.lookup


def _answer(call: Callable[[], T]) -> T:
    """Run a lookup, turning our errors into HTTP answers whose detail says what to fix."""
    try:
        return call()
    except ValidationError as exc:
        raise HTTPException(400, {"field": exc.field, "message": str(exc)}) from None
    except ProfileNotFoundError as exc:
        raise HTTPException(404, {"identifier": exc.identifier, "message": str(exc)}) from None
    except AmbiguousIdentifierError as exc:
        raise HTTPException(
            409, {"identifier": exc.identifier, "profiles": exc.profiles, "message": str(exc)}
        ) from None


async def _respond(call: Callable[[], dict[str, Any]]) -> Response:
    """Run a lookup on a worker thread and render its JSON there too.

    One thread hand-off per request: a plain ``def`` route costs FastAPI two (the route,
    then validating its answer) plus serialising on the event loop, and each waits for
    the loop and the GIL beside the collector. ``pydantic_core.to_json`` writes what
    FastAPI's own serialiser writes (ISO datetimes, decimals as strings).
    """

    def rendered() -> Response:
        return Response(to_json(_answer(call)), media_type="application/json")

    return await run_in_threadpool(rendered)


def _cursor(request: Request, next_cursor: str | None) -> dict[str, Any]:
    return {"url": request.url.path, "has_more": next_cursor is not None, "next": next_cursor or ""}


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:
        raise ValidationError("cursor", cursor, "a cursor returned by this API") from None


@router.get("/{identifier:path}/traits", response_model=dict[str, Any])
async def traits(
    identifier: str,
    request: Request,
    services: ServicesDep,
    include: str | None = Query(None, description="Comma-separated trait names to return."),
) -> Response:
    """The profile's traits (its row of ``profiles``); ``?include=`` selects some."""
    wanted = [t.strip() for t in include.split(",") if t.strip()] if include else None

    def run() -> dict[str, Any]:
        lookup = _lookup(request, services)
        with services.warehouse() as wh:
            ref = lookup.find(wh, identifier)
            row = lookup.traits(wh, ref.profile_id, wanted)
        row.pop("profile_id", None)
        return {
            "profile_id": ref.profile_id,
            "traits": {k: trait_value(v) for k, v in row.items()},
            "cursor": _cursor(request, None),
        }

    return await _respond(run)


@router.get("/{identifier:path}/external_ids", response_model=dict[str, Any])
async def external_ids_route(
    identifier: str,
    request: Request,
    services: ServicesDep,
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(None, alias="next", description="`cursor.next` of a page."),
) -> Response:
    """Every identifier of the profile: type, value, source, status, first and last seen."""

    def run() -> dict[str, Any]:
        lookup = _lookup(request, services)
        start = _offset(cursor)
        with services.warehouse() as wh:
            ref = lookup.find(wh, identifier)
            rows = external_ids(wh, ref.profile_id)
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        token = base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None
        return {"profile_id": ref.profile_id, "data": page, "cursor": _cursor(request, token)}

    return await _respond(run)


@router.get("/{identifier:path}/events", response_model=dict[str, Any])
async def events_route(
    identifier: str,
    request: Request,
    services: ServicesDep,
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    cursor: str | None = Query(None, alias="next", description="`cursor.next` of a page."),
    kind: str | None = Query(None, description=f"Comma-separated kinds: {', '.join(KINDS)}."),
) -> Response:
    """Timeline across channels, newest first: events of all its ids, orders, deliveries."""
    kinds = tuple(k.strip() for k in kind.split(",") if k.strip()) if kind else KINDS

    def run() -> dict[str, Any]:
        lookup = _lookup(request, services)
        with services.warehouse() as wh:
            ref = lookup.find(wh, identifier)
            page = timeline(
                wh,
                ref.profile_id,
                limit=limit,
                cursor=cursor,
                kinds=kinds,
                **lookup.timeline_options(wh),
            )
        return {
            "profile_id": ref.profile_id,
            "data": page.items,
            "cursor": _cursor(request, page.next),
        }

    return await _respond(run)


@router.get("/{identifier:path}/conversion_path", response_model=dict[str, Any])
async def conversion_path_route(
    identifier: str,
    request: Request,
    services: ServicesDep,
    lookback_days: int = Query(30, ge=1, le=366),
    limit: int = Query(20, ge=1, le=MAX_LIMIT, description="How many of the last orders."),
) -> Response:
    """For each of the last orders, the campaign touchpoints in the lookback window before it."""

    def run() -> dict[str, Any]:
        lookup = _lookup(request, services)
        with services.warehouse() as wh:
            ref = lookup.find(wh, identifier)
            paths = conversion_paths(
                wh,
                ref.profile_id,
                lookback_days=lookback_days,
                limit=limit,
                **lookup.timeline_options(wh),
            )
        return {"profile_id": ref.profile_id, "lookback_days": lookback_days, "data": paths}

    return await _respond(run)


@router.get("/{identifier:path}/card", response_model=dict[str, Any])
async def card_route(
    identifier: str,
    request: Request,
    services: ServicesDep,
    recent: int = Query(10, ge=1, le=200, description="Timeline items."),
    lookback_days: int = Query(30, ge=1, le=366),
) -> Response:
    """The 360° card `omni profile show` prints: ids by type, traits, tags, timeline, path."""
    from omnichannel.profiles.card import card_data

    def run() -> dict[str, Any]:
        lookup = _lookup(request, services)
        with services.warehouse() as wh:
            return card_data(wh, lookup, identifier, recent=recent, lookback_days=lookback_days)

    return await _respond(run)
