"""Segments over HTTP: the same operations as ``omni segments`` (which calls these remotely).

Every route is a thin call into ``platform.segments`` (``segments/service.py``). Errors:
400 names the path inside the definition, the value and what is accepted; 404 names the
unknown segment or profile; 409 says why a create or delete conflicts (the name exists,
another segment refers to this one).
"""

from __future__ import annotations

import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep

router = APIRouter(prefix="/api/segments", tags=["segments"])

NamePath = Annotated[str, Path(description="The segment's name (a slug, e.g. vip-buyers).")]
CONDITION_HELP = "The condition document (see docs/segments.md and docs/segment.schema.json)."


class SegmentCreate(BaseModel):
    """A new segment: the definition document, as a user writes it."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="A slug: lower-case letters, digits, '-' and '_'.")
    description: str = ""
    condition: dict[str, Any] = Field(description=CONDITION_HELP)
    created_by: str = Field("api", description="Who saves it (recorded and audited).")


class SegmentUpdate(BaseModel):
    """A segment's new definition; its name stays (given here, it must be the same)."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    description: str = ""
    condition: dict[str, Any] = Field(description=CONDITION_HELP)
    actor: str = Field("api", description="Who changes it (audited).")


class SegmentPreviewRequest(BaseModel):
    """A definition to size before saving (the name may be left out)."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    description: str = ""
    condition: dict[str, Any] = Field(description=CONDITION_HELP)
    sample: int = Field(10, ge=0, le=1000, description="How many member ids to return.")


class RefreshPublic(BaseModel):
    segment: str
    members: int
    entered: int
    exited: int
    seconds: float
    mode: str = Field(description="full or incremental.")
    evaluated: int | None = Field(description="Profiles evaluated; null: everyone.")


class SegmentPublic(BaseModel):
    name: str
    description: str
    version: int = Field(description="Goes up by one on every update.")
    definition: dict[str, Any]
    created_by: str
    created_at: str | None
    updated_at: str | None
    members: int | None = Field(description="Current members.")
    refresh: RefreshPublic | None = Field(None, description="The refresh a save ran.")
    last_refresh: dict[str, Any] | None = Field(None, description="The latest refresh (show).")
    trend: list[int] | None = Field(
        None, description="With ?trend_days=N (list): members at the end of each of N days."
    )


class SegmentDeleted(BaseModel):
    deleted: str
    version: int


class ConditionSizePublic(BaseModel):
    path: str = Field(description="Where it sits in the document, e.g. condition.all[1].")
    kind: str = Field(description="trait, event, device, ...")
    condition: str = Field(description="The condition in words.")
    size: int = Field(description="Profiles that meet this condition alone.")


class SegmentPreview(BaseModel):
    name: str
    size: int = Field(description="Members the definition has now.")
    sample: list[str] = Field(description="Some of their profile ids.")
    conditions: list[ConditionSizePublic] = Field(
        description="Each top-level condition's size alone: which one narrows most."
    )
    profiles: int = Field(description="Every known profile, for the share.")
    sql: str | None = Field(None, description="The SQL it runs (with ?sql=true).")


class SegmentMembers(BaseModel):
    segment: str
    version: int
    total: int
    offset: int
    profile_ids: list[str]


class SegmentExplanation(BaseModel):
    segment: str
    version: int
    sql: str = Field(description="The SQL the warehouse's engine runs for it.")
    why: dict[str, Any] | None = Field(
        None,
        description="With ?profile=ID: whether that profile is in, and which condition decides.",
    )


def _document(body: BaseModel, *drop: str) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump(exclude_none=True).items() if k not in drop}


# Unset fields are left out here and below (``trend`` without ?trend_days=): an answer has
# the keys platform.segments gives, as the CLI prints them offline.
@router.get(
    "",
    summary="Every segment with its version and member count",
    response_model_exclude_unset=True,
)
def list_segments(
    platform: PlatformDep,
    trend_days: Annotated[
        int | None, Query(description="Also each one's members per day over these last days.")
    ] = None,
) -> list[SegmentPublic]:
    rows = platform.segments.list(trend_days=trend_days)
    return [SegmentPublic.model_validate(s) for s in rows]


@router.post(
    "",
    status_code=201,
    summary="Save a segment and compute its members",
    response_model_exclude_unset=True,
    responses={409: {"description": "A segment has this name already."}},
)
def create_segment(body: SegmentCreate, platform: PlatformDep, who: PrincipalDep) -> SegmentPublic:
    author = acting(who, body.created_by)
    saved = platform.segments.create(_document(body, "created_by"), created_by=author)
    return SegmentPublic.model_validate(saved)


@router.post("/preview", summary="Size and sample of a definition, without saving it")
def preview_segment(
    body: SegmentPreviewRequest,
    platform: PlatformDep,
    sql: Annotated[bool, Query(description="Also return the SQL it runs.")] = False,
) -> SegmentPreview:
    document = _document(body, "sample")
    answer = platform.segments.preview(document, sample=body.sample)
    if sql:
        answer["sql"] = platform.segments.sql({**document, "name": answer["name"]})
    return SegmentPreview.model_validate(answer)


@router.get(
    "/{name}",
    summary="One segment",
    response_model_exclude_unset=True,
    responses={404: {"description": "No segment has this name."}},
)
def show_segment(name: NamePath, platform: PlatformDep) -> SegmentPublic:
    return SegmentPublic.model_validate(platform.segments.show(name))


@router.put(
    "/{name}",
    summary="Replace a segment's definition (its version goes up) and recompute its members",
    response_model_exclude_unset=True,
    responses={404: {"description": "No segment has this name."}},
)
def update_segment(
    name: NamePath, body: SegmentUpdate, platform: PlatformDep, who: PrincipalDep
) -> SegmentPublic:
    updated = platform.segments.update(
        name, _document(body, "actor"), actor=acting(who, body.actor)
    )
    return SegmentPublic.model_validate(updated)


@router.delete(
    "/{name}",
    summary="Delete a segment and its membership",
    responses={
        404: {"description": "No segment has this name."},
        409: {"description": "Another segment refers to it."},
    },
)
def delete_segment(name: NamePath, platform: PlatformDep, who: PrincipalDep) -> SegmentDeleted:
    deleted = platform.segments.delete(name, actor=acting(who, None))
    return SegmentDeleted.model_validate(deleted)


@router.get("/{name}/members", summary="The current members' profile ids, sorted")
def segment_members(
    name: NamePath,
    platform: PlatformDep,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SegmentMembers:
    return SegmentMembers.model_validate(
        platform.segments.members(name, limit=limit, offset=offset)
    )


@router.get("/{name}/explain", summary="The SQL of a segment, and why one profile is in or not")
def explain_segment(
    name: NamePath,
    platform: PlatformDep,
    profile: Annotated[str | None, Query(description="A profile id (p_...).")] = None,
) -> SegmentExplanation:
    return SegmentExplanation.model_validate(platform.segments.explain(name, profile=profile))


class TrendPoint(BaseModel):
    day: str = Field(description="A UTC day, 2026-06-01.")
    members: int = Field(description="Members at the day's end (now, for today).")
    entered: int = Field(description="Stays that began that day.")
    exited: int = Field(description="Stays that ended that day.")


class SegmentTrend(BaseModel):
    segment: str
    days: int
    from_: str = Field(alias="from", description="The first day.")
    to: str = Field(description="The last day (today, UTC).")
    points: list[TrendPoint] = Field(description="One per day, oldest first.")

    model_config = ConfigDict(populate_by_name=True)


@router.get(
    "/{name}/trend",
    summary="Members at the end of each of the last N days, with entries and exits",
    response_model_by_alias=True,
)
def segment_trend(
    name: NamePath,
    platform: PlatformDep,
    days: Annotated[int, Query(description="How many days back, 1 to 366.")] = 30,
) -> SegmentTrend:
    return SegmentTrend.model_validate(platform.segments.trend(name, days=days))


@router.post("/{name}/refresh", summary="Recompute a segment's members now")
def refresh_segment(name: NamePath, platform: PlatformDep) -> list[RefreshPublic]:
    return [RefreshPublic.model_validate(r) for r in platform.segments.refresh(name)]


EXPORT_HEADERS = {
    "X-Omni-Members": "Members of the segment when exported.",
    "X-Omni-Rows": "Rows written (one per profile).",
    "X-Omni-Left-Out": 'JSON: profiles left out per reason, e.g. {"ads consent denied": 3}.',
}


@router.get(
    "/{name}/export",
    summary="The members as a CSV, Google Customer Match or Meta Custom Audiences file",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": {
                k: {"description": v, "schema": {"type": "string"}}
                for k, v in EXPORT_HEADERS.items()
            },
        }
    },
)
def export_segment(
    name: NamePath,
    platform: PlatformDep,
    format: Annotated[str, Query(description="csv, google or meta.")] = "csv",
    columns: Annotated[
        str | None, Query(description="csv: comma-separated profile columns after profile_id.")
    ] = None,
    channel: Annotated[
        str | None, Query(description="csv: leave out profiles whose consent for it is withheld.")
    ] = None,
) -> Response:
    out = io.StringIO()
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else []
    result = platform.segments.export(name, fmt=format, out=out, columns=chosen, channel=channel)
    headers = {
        "X-Omni-Members": str(result.members),
        "X-Omni-Rows": str(result.rows),
        "X-Omni-Left-Out": json.dumps(result.left_out, ensure_ascii=True),
        "Content-Disposition": f'attachment; filename="{name}-{format}.csv"',
    }
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
