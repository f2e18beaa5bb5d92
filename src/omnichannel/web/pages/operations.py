"""Operations (``/operations``): the background jobs with their schedules and last runs,
the recent runs of all of them, the backups taken and the retention in force.

Everything comes from ``platform.operations``, what ``omni jobs list``, ``omni
operations backups|retention`` and ``/api/jobs``, ``/api/operations`` call. The page
reads (``jobs:read``, the access layer's area for ``/operations``) and changes nothing:
a job is started with ``omni jobs run NAME`` or ``POST /api/jobs/{name}/runs``, a backup
with ``omni backup DIR``. Every table has its CSV
(``?format=csv&table=jobs|runs|backups|retention``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from omnichannel.api.deps import ServicesDep
from omnichannel.operations import RUN_STATUSES
from omnichannel.web.i18n import gettext as _
from omnichannel.web.render import csv_response, render, table_of, wants_csv

router = APIRouter(include_in_schema=False)

JOB_COLUMNS = ["name", "every_seconds", "running", "next_run", "last_status", "last_started_at"]
JOB_COLUMNS += ["last_seconds", "last_rows", "last_error", "description"]
RUN_COLUMNS = ["id", "job", "trigger", "status", "started_at", "seconds", "rows", "error"]
BACKUP_COLUMNS = ["run", "status", "started_at", "seconds", "directory", "version"]
BACKUP_COLUMNS += ["warehouse_tables", "warehouse_rows", "opstore_tables", "opstore_rows"]
BACKUP_COLUMNS += ["files", "error"]
RETENTION_COLUMNS = ["table", "store", "column", "days", "last_cutoff", "last_deleted"]


def _words_in_templates() -> None:
    """Statuses and stores as the library names them, for ``pybabel extract``."""
    _("running"), _("succeeded"), _("failed"), _("warehouse"), _("opstore")
    _("schedule"), _("manual"), _("event")


def _job_rows(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each job with its last run's figures beside it (one flat row for the CSV)."""
    rows = []
    for job in jobs:
        last = job.get("last_run") or {}
        rows.append(
            {
                **{k: v for k, v in job.items() if k != "last_run"},
                "last_status": last.get("status"),
                "last_started_at": last.get("started_at"),
                "last_seconds": last.get("seconds"),
                "last_rows": last.get("rows"),
                "last_error": last.get("error"),
            }
        )
    return rows


def every(seconds: float | None) -> str:
    """A schedule as a person reads it: every 1h, every 15m, on demand."""
    from omnichannel.jobs.registry import format_period

    period = format_period(seconds)
    return _("on demand") if period is None else _("every %(n)s") % {"n": period}


@router.get("/operations")
async def operations_page(request: Request, services: ServicesDep) -> Response:
    operations = services.platform.operations
    status = request.query_params.get("status") or None
    if status not in (None, *RUN_STATUSES):
        status = None
    jobs = _job_rows(await run_in_threadpool(operations.jobs))
    runs = await run_in_threadpool(lambda: operations.runs(limit=50, status=status))
    backups = await run_in_threadpool(operations.backups)
    retention = await run_in_threadpool(operations.retention)
    if wants_csv(request):
        table = table_of(request, "jobs")
        if table == "runs":
            return csv_response(runs, RUN_COLUMNS, "job-runs")
        if table == "backups":
            return csv_response(backups, BACKUP_COLUMNS, "backups")
        if table == "retention":
            return csv_response(retention["tables"], RETENTION_COLUMNS, "retention")
        return csv_response(jobs, JOB_COLUMNS, "jobs")
    for job in jobs:
        job["schedule"] = every(job["every_seconds"])
    return render(
        request,
        "operations.html",
        {
            "title": _("Operations"),
            "jobs": jobs,
            "runs": runs,
            "status": status or "",
            "statuses": RUN_STATUSES,
            "backups": backups,
            "retention": retention,
        },
    )
