"""Segments: the list with sizes, and one segment with each condition's size and why a
person is (not) a member."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omnichannel.api.deps import ServicesDep
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.profiles.lookup import AmbiguousIdentifierError, ProfileNotFoundError
from omnichannel.web.i18n import pick, speaking
from omnichannel.web.pages.people import identifier_of, lookup_error
from omnichannel.web.render import csv_response, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

SEGMENT_COLUMNS = ["name", "description", "version", "members", "updated_at", "created_by"]


@router.get("/segments")
def segments_page(request: Request, services: ServicesDep) -> Response:
    rows = services.platform.segments.list()
    if wants_csv(request):
        return csv_response(rows, SEGMENT_COLUMNS, "segments")
    return render(request, "segments.html", {"segments": rows})


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
    if wants_csv(request):
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
        },
    )
