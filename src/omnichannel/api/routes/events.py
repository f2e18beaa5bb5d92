"""What the collector and loaders have stored, over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from omnichannel.api.deps import ServicesDep
from omnichannel.ingest.stats import event_stats

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("/stats")
def stats(services: ServicesDep) -> dict[str, Any]:
    """Stored events by source and type; dead letters by source, field and reason; loader lag."""
    with services.warehouse() as wh:
        result = event_stats(wh)
    runtime = services.ingest
    if runtime is not None:
        result["log"] = {
            "end": runtime.log.end,
            "checkpoint": runtime.log.checkpoint(),
            "pending_bytes": runtime.log.pending_bytes(),
            "loader_error": runtime.loader.last_error,
            "subscribers": runtime.stream.subscriber_count,
        }
    return result
