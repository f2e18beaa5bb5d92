"""``platform.operations``: what an operator checks on an installation's upkeep.

The background jobs with their schedules and last runs, the recent runs of all of them,
the backups taken (the ``backup`` job's runs and the manifest each left) and the
retention in force (``OMNI_RETENTION`` read per table, and what the last ``retention``
run deleted). It reads the job history and the settings; starting a job stays
``platform.jobs.submit`` (``omni jobs run``, ``POST /api/jobs/{name}/runs``), and a
backup is the ``backup`` job (``omni backup DIR``).

Example::

    platform.operations.backups()[0]["directory"]     # the newest backup's directory
    platform.operations.retention()["tables"]         # [{"table": "events", "days": 400.0, ...}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omnichannel.errors import ValidationError
from omnichannel.retention import OPSTORE_TABLES, WAREHOUSE_TABLES, parse_retention

if TYPE_CHECKING:
    from omnichannel.jobs.history import RunRecord
    from omnichannel.platform import Platform

RUN_STATUSES = ("running", "succeeded", "failed")


class OperationsCapability:
    """Jobs, their runs, backups and retention, as the /operations page shows them."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def jobs(self) -> list[dict[str, Any]]:
        """Every job: what it does, how often, who runs it now, its next and last run."""
        rows: list[dict[str, Any]] = self._platform.jobs.describe()
        return rows

    def runs(self, *, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        """The newest runs of every job (``status``: running, succeeded or failed only)."""
        if status is not None and status not in RUN_STATUSES:
            raise ValidationError("status", status, f"one of {', '.join(RUN_STATUSES)}")
        if limit < 1:
            raise ValidationError("limit", limit, "1 or more")
        # Read wider than asked when filtering, so a filter still fills the page.
        recent = self._platform.jobs.history.recent(None, limit if status is None else limit * 10)
        return [r.public() for r in recent if status is None or r.status == status][:limit]

    def backups(self, *, limit: int = 20) -> list[dict[str, Any]]:
        """The ``backup`` job's runs, newest first, with what each copied."""
        if limit < 1:
            raise ValidationError("limit", limit, "1 or more")
        return [_backup_of(r) for r in self._platform.jobs.history.recent("backup", limit)]

    def retention(self) -> dict[str, Any]:
        """Per table offered: the store, the column its age is read from, how long rows
        are kept (``None``: for good), and what the last ``retention`` run deleted."""
        kept = parse_retention(self._platform.settings.retention)
        last = self._platform.jobs.history.last("retention")
        deleted = (last.detail if last is not None and last.status == "succeeded" else {}) or {}
        stores = [("warehouse", WAREHOUSE_TABLES), ("opstore", OPSTORE_TABLES)]
        tables = []
        for store, columns in stores:
            for table, column in sorted(columns.items()):
                period = kept.get(table)
                done = deleted.get(table) or {}
                tables.append(
                    {
                        "table": table,
                        "store": store,
                        "column": column,
                        "days": None if period is None else period.total_seconds() / 86400,
                        "last_cutoff": done.get("cutoff"),
                        "last_deleted": done.get("deleted"),
                    }
                )
        return {
            "setting": self._platform.settings.retention,
            "tables": tables,
            "last_run": None if last is None else last.public(),
        }


def _backup_of(run: RunRecord) -> dict[str, Any]:
    manifest = run.detail or {}
    warehouse = manifest.get("warehouse") or {}
    opstore = manifest.get("opstore") or {}
    return {
        "run": run.id,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "seconds": run.seconds,
        "directory": manifest.get("directory"),
        "version": manifest.get("omnichannel"),
        "warehouse_tables": len(warehouse),
        "warehouse_rows": sum(warehouse.values()) if warehouse else None,
        "opstore_tables": len(opstore),
        "opstore_rows": sum(opstore.values()) if opstore else None,
        "files": len(manifest.get("files") or []),
        "error": run.error,
    }
