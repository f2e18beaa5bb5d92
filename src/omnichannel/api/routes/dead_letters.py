"""Dead letters over HTTP: what was refused on the way in, newest first, with the total."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from omnichannel.api.deps import ServicesDep

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


class DeadLetterPage(BaseModel):
    rows: list[dict[str, Any]]
    total: int = Field(description="Letters matching, however many are shown.")


@router.get("", response_model=DeadLetterPage, summary="Pending dead letters, newest first")
def list_letters(
    services: ServicesDep,
    source: Annotated[str | None, Query(description="Only this source.")] = None,
    include_accepted: Annotated[
        bool, Query(alias="all", description="Also those a replay accepted.")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
) -> DeadLetterPage:
    """What `omni dlq list` prints: origin, field, value, reason code and detail, attempts."""
    from omnichannel.ingest.replay import count_pending, pending

    with services.warehouse() as wh:
        rows = pending(wh, source=source, include_accepted=include_accepted, limit=limit)
        total = count_pending(wh, source=source, include_accepted=include_accepted)
    return DeadLetterPage(rows=rows, total=total)
