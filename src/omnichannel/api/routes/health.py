"""Liveness (``/healthz``), readiness (``/readyz``) and metrics (``/metrics``).

``/healthz`` answers from the process alone and never touches a store: a load balancer
or supervisor asking "is it alive" must get an answer while a long query runs or the
warehouse is unreachable. ``/readyz`` checks what serving needs (warehouse, operational
store, event log, loader, the collector's own process when there is one) and answers 503
with the reasons when something fails; jobs and consumers are reported beside them (a
failed run retries later: no reason to stop serving).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import weakref
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from omnichannel import __version__
from omnichannel.api.deps import ServicesDep
from omnichannel.api.services import Services

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(description="Always ok while the process answers.")
    version: str
    uptime_seconds: float


class Check(BaseModel):
    ok: bool
    detail: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class Readiness(BaseModel):
    status: str = Field(description="ready, or unready when any check fails.")
    version: str
    checks: dict[str, Check]


@router.get("/healthz", response_model=Health)
def healthz(services: ServicesDep) -> Health:
    """Liveness: the process answers. Reads no store, so it answers while they are busy."""
    return Health(
        status="ok",
        version=__version__,
        uptime_seconds=round(time.monotonic() - services.started, 3),
    )


def _check(probe: Any) -> Check:
    try:
        detail = probe()
    except Exception as exc:
        return Check(ok=False, error=f"{type(exc).__name__}: {exc}")
    ok = bool(detail.pop("ok", True))
    return Check(ok=ok, detail=detail, error=None if ok else detail.get("reason"))


def _warehouse(services: Services) -> dict[str, Any]:
    from omnichannel.warehouse.tables import META_TABLE

    with services.warehouse() as wh:
        wh.con.table(META_TABLE).count().to_pyarrow()  # a round trip on this connection
        return {"engine": wh.engine, "schema_version": wh.schema_report.version}


def _opstore(services: Services) -> dict[str, Any]:
    from sqlalchemy import text

    store = services.opstore()
    with store.session() as session:
        session.execute(text("SELECT 1"))
    return {"revision": store.revision}


def _event_log(services: Services) -> dict[str, Any]:
    if services.ingest is None:
        return {"ok": False, "reason": "the collector's event log is not open"}
    event_log = services.ingest.log
    directory = event_log.directory
    free = shutil.disk_usage(directory).free
    detail: dict[str, Any] = {
        "directory": str(directory),
        "end_offset": event_log.end,
        "free_bytes": free,
    }
    if not os.access(directory, os.W_OK):
        return {"ok": False, "reason": f"the event log {directory} is not writable", **detail}
    if free < event_log.segment_bytes:
        # The next segment may not fit: the collector would answer 503 to every call.
        reason = (
            f"{free} bytes free on the event log's disk ({directory}), less than one "
            f"segment ({event_log.segment_bytes} bytes, OMNI_LOG_SEGMENT_BYTES)"
        )
        return {"ok": False, "reason": reason, **detail}
    return detail


def _loader(services: Services) -> dict[str, Any]:
    if services.ingest is None:
        return {"ok": False, "reason": "the collector's event log is not open"}
    health = services.ingest.loader.health()
    if health["stalled"]:
        reason = (
            f"the loader has stored nothing for {health['seconds_since_progress']:.0f}s with "
            f"{health['pending_bytes']} bytes waiting"
            + (f": {health['last_error']}" if health["last_error"] else "")
        )
        return {"ok": False, "reason": reason, **health}
    return health


def _collector_process(services: Services) -> dict[str, Any]:
    collector = None if services.ingest is None else services.ingest.collector
    if collector is None:
        return {"enabled": False}  # OMNI_COLLECTOR_PORT unset: the collector is in here
    return {"enabled": True, **collector.readiness()}


def _jobs(services: Services) -> dict[str, Any]:
    failed = [
        row["name"]
        for row in services.platform.jobs.describe()
        if row["last_run"] is not None and row["last_run"]["status"] == "failed"
    ]
    # A failed job is reported, not made a reason to stop serving: it runs again later.
    return {"last_run_failed": failed}


def _consumers(services: Services) -> dict[str, Any]:
    runner = services.platform.consumers
    try:
        latest: int | None = runner.latest() if runner.consumers else 0
    except Exception:
        latest = None  # the warehouse check says why; the lag is unknown meanwhile
    states = {}
    for consumer in runner.consumers:
        state = runner.state[consumer.name]
        position = runner.checkpoints.get(consumer.name) or 0
        states[consumer.name] = {
            "lag": None if latest is None else max(0, latest - position),
            "position": position,
            "failures": state.failures,
            "last_error": state.last_error,
        }
    # Like a job, a failing consumer is reported, not a reason to stop serving requests:
    # it retries the same events and misses none.
    failing = sorted(name for name, state in states.items() if state["last_error"])
    return {"consumers": states, "failing": failing}


# The checks failing at the last /readyz, per server: a change is logged once, not at
# every probe. This is how a loader stall (no error raised, nothing stored) reaches the
# log: the loader cannot say so itself while it is stuck.
_failing: weakref.WeakKeyDictionary[Services, frozenset[str]] = weakref.WeakKeyDictionary()


def _log_changes(services: Services, checks: dict[str, Check]) -> None:
    failing = frozenset(name for name, check in checks.items() if not check.ok)
    before = _failing.get(services, frozenset())
    for name in sorted(failing - before):
        log.warning("readiness check failing", extra={"check": name, "error": checks[name].error})
    for name in sorted(before - failing):
        log.info("readiness check passing again", extra={"check": name})
    _failing[services] = failing


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A check failed; each says why."}},
)
def readyz(services: ServicesDep) -> Any:
    """Readiness: warehouse, operational store, event log, loader (lag, stall), the
    collector's own process when there is one, jobs, consumers."""
    checks = {
        "warehouse": _check(lambda: _warehouse(services)),
        "opstore": _check(lambda: _opstore(services)),
        "log": _check(lambda: _event_log(services)),
        "loader": _check(lambda: _loader(services)),
        "collector_process": _check(lambda: _collector_process(services)),
        "jobs": _check(lambda: _jobs(services)),
        "consumers": _check(lambda: _consumers(services)),
    }
    _log_changes(services, checks)
    ready = all(check.ok for check in checks.values())
    body = Readiness(status="ready" if ready else "unready", version=__version__, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (text format)")
def metrics(services: ServicesDep) -> Response:
    """Requests by route and status with latency, events, loader and consumer lag, jobs."""
    body, content_type = services.metrics.exposition()
    return Response(body, media_type=content_type)
