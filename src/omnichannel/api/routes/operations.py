"""Operations over HTTP: the backups taken and the retention in force (``omni operations``
calls these; the jobs themselves are ``/api/jobs``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from omnichannel.api.deps import PlatformDep
from omnichannel.api.routes.jobs import RunPublic

router = APIRouter(prefix="/api/operations", tags=["operations"])


class BackupPublic(BaseModel):
    run: int = Field(description="The backup job's run (/api/jobs/runs/{run}).")
    status: str
    started_at: str
    seconds: float | None
    directory: str | None = Field(description="Where it was copied; null if it failed first.")
    version: str | None = Field(description="The omnichannel version that took it.")
    warehouse_tables: int
    warehouse_rows: int | None
    opstore_tables: int
    opstore_rows: int | None
    files: int = Field(description="Files of the home copied (configuration, keys).")
    error: str | None


class RetentionTable(BaseModel):
    table: str
    store: str = Field(description="warehouse or opstore.")
    column: str = Field(description="The column a row's age is read from.")
    days: float | None = Field(description="How long rows are kept; null: for good.")
    last_cutoff: str | None = Field(description="The last retention run's cutoff here.")
    last_deleted: int | None = Field(description="Rows that run deleted here.")


class RetentionPublic(BaseModel):
    setting: str = Field(description="OMNI_RETENTION as the server read it.")
    tables: list[RetentionTable]
    last_run: RunPublic | None


@router.get("/backups", summary="The backups taken (the backup job's runs), newest first")
def list_backups(
    platform: PlatformDep, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> list[BackupPublic]:
    return [BackupPublic.model_validate(b) for b in platform.operations.backups(limit=limit)]


@router.get("/retention", summary="How long each table keeps its rows, and the last run")
def retention(platform: PlatformDep) -> RetentionPublic:
    found: dict[str, Any] = platform.operations.retention()
    return RetentionPublic.model_validate(found)
