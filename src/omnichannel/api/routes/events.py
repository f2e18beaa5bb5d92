"""What the collector and loaders have stored, over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from omnichannel.api.deps import ServicesDep
from omnichannel.ingest.stats import event_stats
from omnichannel.ingest.unauthorized import unauthorized_counts

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("/stats")
def stats(services: ServicesDep) -> dict[str, Any]:
    """Stored events by source and type; dead letters by source, field and reason; loader
    lag; collector requests refused for want of a valid write key (all counted, a sample kept).
    """
    with services.warehouse() as wh:
        result = event_stats(wh)
    runtime = services.ingest
    if runtime is not None:
        result["log"] = {
            "end": runtime.log.end,
            "checkpoint": runtime.log.checkpoint(),
            # Every log the loader drains (the collector process's too, when it runs).
            "pending_bytes": runtime.pending_bytes(),
            "loader_error": runtime.loader.last_error,
            "subscribers": runtime.stream.subscriber_count,
        }
        if runtime.collector is not None:
            result["log"]["collector_process"] = {
                **runtime.collector.health(),
                "end": runtime.collector.tail.end,
                "checkpoint": runtime.collector.tail.checkpoint(),
            }
        runtime.unauthorized.flush()  # counted in memory until now
    with services.opstore().session() as session:
        result["unauthorized"] = unauthorized_counts(session)
    return result
