"""Background jobs over HTTP: list them, start one, follow a run (``omni jobs`` calls these)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from omnichannel.api.deps import PlatformDep

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


class RunPublic(BaseModel):
    id: int
    job: str
    trigger: str = Field(description="schedule, manual or event.")
    runner: str = Field(description="host:pid:tag of the process that ran it.")
    status: str = Field(description="running, succeeded or failed.")
    started_at: str
    finished_at: str | None
    seconds: float | None
    rows: int | None
    progress: dict[str, Any] = Field(description='Latest {"stage", "done", "total"}.')
    detail: dict[str, Any]
    error: str | None


class RunRequest(BaseModel):
    options: dict[str, Any] = Field(
        default_factory=dict,
        description='What this run is asked for, e.g. {"full": true} for identity.',
    )


class JobPublic(BaseModel):
    name: str
    description: str
    every_seconds: float | None = Field(description="Period of its schedule; null: on demand.")
    running: str | None = Field(description="The runner holding it now, if any.")
    next_run: str | None
    last_run: RunPublic | None


@router.get("", summary="Every job, its schedule and its last run")
def list_jobs(platform: PlatformDep) -> list[JobPublic]:
    return [JobPublic.model_validate(row) for row in platform.jobs.describe()]


@router.post(
    "/{name}/runs",
    status_code=202,
    summary="Start a job now; follow it at /api/jobs/runs/{id}",
    responses={409: {"description": "The job is running already."}},
)
def start_run(
    name: Annotated[str, Path()], platform: PlatformDep, body: RunRequest | None = None
) -> RunPublic:
    run_id = platform.jobs.submit(name, options=body.options if body else None)
    record = platform.jobs.history.get(run_id)
    assert record is not None  # just written by submit
    return RunPublic.model_validate(record.public())


@router.get("/{name}/runs", summary="Recent runs of one job, newest first")
def recent_runs(
    name: Annotated[str, Path()],
    platform: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[RunPublic]:
    platform.job_registry.get(name)  # an unknown job is a 400 naming the known ones
    return [RunPublic.model_validate(r.public()) for r in platform.jobs.history.recent(name, limit)]


@router.get(
    "/runs/{run_id}",
    summary="One run: its progress while it runs, its outcome after",
    responses={404: {"description": "No run has this id."}},
)
def get_run(run_id: Annotated[int, Path(ge=1)], platform: PlatformDep) -> RunPublic:
    record = platform.jobs.history.get(run_id)
    if record is None:
        raise HTTPException(404, f"no job run has id {run_id}")
    return RunPublic.model_validate(record.public())
