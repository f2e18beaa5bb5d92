"""Saved reports and teams over HTTP: thin calls into ``platform.reports`` (reports/).

``omni reports ...`` calls these while a server owns the home. A signed-in user sees
their own reports and their teams'; an admin (or the admin token) sees every report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.access.api import PrincipalDep, acting
from omnichannel.api.deps import PlatformDep
from omnichannel.jsonable import jsonable
from omnichannel.reports.service import ReportForbidden, viewer_of

router = APIRouter(prefix="/api/reports", tags=["reports"])
# Writes need reports:write (the router's guard in api/app.py); these their own.
ACTIONS = {
    "preview_report": "analytics:read",
    "create_team": "users:write",
    "add_team_member": "users:write",
    "remove_team_member": "users:write",
    "delete_team": "users:write",
}


class ReportCreate(BaseModel):
    document: dict[str, Any] | str = Field(description="The definition (object, YAML or JSON).")
    team: str | None = Field(None, description="Share with this team at once.")
    owner: str | None = Field(None, description="An admin token may name the owner.")


class ReportUpdate(BaseModel):
    document: dict[str, Any] | str = Field(description="The new version's definition.")


class ReportPreview(BaseModel):
    document: dict[str, Any] | str = Field(description="A definition to run without saving.")


class ReportShare(BaseModel):
    team: str | None = Field(description="The team to share with; null makes it private.")


class ReportSchedule(BaseModel):
    schedule: dict[str, Any] | None = Field(
        description="{every: day|week|month, hour, weekday (0 Monday), day}; null stops it."
    )


class TeamCreate(BaseModel):
    name: str
    description: str = ""


class TeamMemberAdd(BaseModel):
    email: str


async def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return jsonable(await run_in_threadpool(function, *args, **kwargs))
    except ReportForbidden as exc:
        raise HTTPException(403, {"message": str(exc)}) from None


@router.get("", summary="The reports the caller may see")
async def list_reports(platform: PlatformDep, who: PrincipalDep) -> Any:
    return await _call(platform.reports.list, user=viewer_of(who))


@router.post("", summary="Save a report", status_code=201)
async def create_report(body: ReportCreate, platform: PlatformDep, who: PrincipalDep) -> Any:
    owner = acting(who, body.owner)
    return await _call(
        platform.reports.create, body.document, owner=owner, team=body.team, actor=who.actor
    )


@router.post("/preview", summary="Run a definition without saving it")
async def preview_report(body: ReportPreview, platform: PlatformDep) -> Any:
    return await _call(platform.reports.preview, body.document)


@router.get("/events", summary="Event names the warehouse holds, with counts")
async def event_names(
    platform: PlatformDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 500
) -> Any:
    return await _call(platform.reports.event_names, limit=limit)


@router.get("/attribution", summary="Attribution models side by side, a column per model")
async def attribution_side_by_side(
    platform: PlatformDep,
    models: Annotated[list[str] | None, Query(description="Models (repeat).")] = None,
    lookback_days: float = 30.0,
) -> Any:
    chosen = models or ["first_touch", "last_touch", "linear", "markov"]
    return await _call(platform.reports.attribution, chosen, lookback_days=lookback_days)


@router.get("/teams", summary="Teams and their members")
async def list_teams(platform: PlatformDep) -> Any:
    return await _call(platform.reports.teams.list)


@router.post("/teams", summary="Create a team", status_code=201)
async def create_team(body: TeamCreate, platform: PlatformDep, who: PrincipalDep) -> Any:
    return await _call(
        platform.reports.teams.create, body.name, description=body.description, actor=who.actor
    )


@router.post("/teams/{name}/members", summary="Add a user to a team")
async def add_team_member(
    name: str, body: TeamMemberAdd, platform: PlatformDep, who: PrincipalDep
) -> Any:
    return await _call(platform.reports.teams.add, name, body.email, actor=who.actor)


@router.delete("/teams/{name}/members/{email}", summary="Remove a user from a team")
async def remove_team_member(
    name: str, email: str, platform: PlatformDep, who: PrincipalDep
) -> Any:
    return await _call(platform.reports.teams.remove, name, email, actor=who.actor)


@router.delete("/teams/{name}", summary="Delete a team (its reports become private)")
async def delete_team(name: str, platform: PlatformDep, who: PrincipalDep) -> Any:
    await _call(platform.reports.teams.delete, name, actor=who.actor)
    return {"deleted": name}


@router.get("/{report_id}", summary="One report and its definition")
async def show_report(
    report_id: int, platform: PlatformDep, who: PrincipalDep, version: int | None = None
) -> Any:
    return await _call(platform.reports.show, report_id, user=viewer_of(who), version=version)


@router.get("/{report_id}/versions", summary="Every saved version of a report")
async def report_versions(report_id: int, platform: PlatformDep, who: PrincipalDep) -> Any:
    return await _call(platform.reports.versions, report_id, user=viewer_of(who))


@router.get("/{report_id}/run", summary="Run a report: columns, rows, chart")
async def run_report(
    report_id: int, platform: PlatformDep, who: PrincipalDep, version: int | None = None
) -> Any:
    return await _call(platform.reports.run, report_id, user=viewer_of(who), version=version)


@router.put("/{report_id}", summary="Save a new version of a report")
async def update_report(
    report_id: int, body: ReportUpdate, platform: PlatformDep, who: PrincipalDep
) -> Any:
    return await _call(
        platform.reports.update, report_id, body.document, actor=who.actor, user=viewer_of(who)
    )


@router.delete("/{report_id}", summary="Delete a report")
async def delete_report(report_id: int, platform: PlatformDep, who: PrincipalDep) -> Any:
    await _call(platform.reports.delete, report_id, actor=who.actor, user=viewer_of(who))
    return {"deleted": report_id}


@router.put("/{report_id}/share", summary="Share a report with a team, or make it private")
async def share_report(
    report_id: int, body: ReportShare, platform: PlatformDep, who: PrincipalDep
) -> Any:
    return await _call(
        platform.reports.share, report_id, body.team, actor=who.actor, user=viewer_of(who)
    )


@router.put("/{report_id}/schedule", summary="Email a report on a schedule, or stop")
async def schedule_report(
    report_id: int, body: ReportSchedule, platform: PlatformDep, who: PrincipalDep
) -> Any:
    return await _call(
        platform.reports.schedule, report_id, body.schedule, actor=who.actor, user=viewer_of(who)
    )


@router.post("/{report_id}/send", summary="Run a report and email it now")
async def send_report(report_id: int, platform: PlatformDep, who: PrincipalDep) -> Any:
    return await _call(platform.reports.send, report_id, actor=who.actor, user=viewer_of(who))
