"""The audit log over HTTP: `omni audit list` beside a running server."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from omnichannel.access.api import require
from omnichannel.api.deps import PlatformDep

router = APIRouter(prefix="/api/audit", tags=["access"])


@router.get(
    "",
    summary="Every change, newest first: who, what, when, before and after",
    dependencies=[require("audit:read")],
)
def audit_log(
    platform: PlatformDep,
    target: Annotated[str | None, Query(description="TYPE or TYPE:ID, e.g. journey:cart")] = None,
    actor: Annotated[str | None, Query(description="Who acted, e.g. ana@shop.example")] = None,
    action: Annotated[
        str | None, Query(description="e.g. journey.approve, or a prefix ending in a dot")
    ] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601 time")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    return platform.access.audit(
        target=target, actor=actor, action=action, since=since, limit=limit
    )
