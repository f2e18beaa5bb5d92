"""Ad audiences over HTTP: the destinations of audiences.yaml, and syncing a segment to one.

Thin calls into ``platform.audiences`` (``channels/audiences.py``); ``omni audiences``
calls these when a server owns the home.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omnichannel.api.deps import PlatformDep

router = APIRouter(prefix="/api/audiences", tags=["audiences"])


class DestinationPublic(BaseModel):
    name: str
    platform: str = Field(description="meta or google.")
    target: str = Field(description="The audience or user list it replaces.")
    segment: str | None = Field(description="The segment the audiences job keeps it in step with.")


class SyncPublic(BaseModel):
    destination: str
    platform: str
    segment: str
    members: int = Field(description="Members of the segment now.")
    rows: int = Field(description="Members with something to match on, consent allowing.")
    uploaded: int = Field(description="Rows (Meta) or members (Google) sent to the platform.")
    batches: int
    left_out: dict[str, int] = Field(description="Members left out, by reason.")
    left_out_total: int
    reference: str = Field(description="Meta's session id, or Google's job resource name.")
    answers: list[dict[str, Any]] = Field(description="What the platform said of each batch.")


@router.get("", response_model=list[DestinationPublic], summary="Audience destinations")
def destinations(platform: PlatformDep) -> Any:
    """The destinations named in audiences.yaml (never their tokens)."""
    return platform.audiences.destinations()


@router.post(
    "/{destination}/sync",
    response_model=SyncPublic,
    summary="Replace a destination's audience with a segment's members",
)
async def sync(
    platform: PlatformDep,
    destination: Annotated[str, Path(description="A destination of audiences.yaml.")],
    segment: Annotated[str, Query(description="The segment whose members to upload.")],
    actor: Annotated[str, Query(description="Who asks (audited).")] = "api",
) -> Any:
    """Upload the segment's current members, hashed, replacing the platform's list."""
    return await run_in_threadpool(platform.audiences.sync, segment, destination, actor=actor)
