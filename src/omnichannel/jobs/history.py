"""Job runs and job locks in the operational store.

The lock is a row per job with its holder and an expiry, taken by one conditional
UPDATE (or the INSERT of a missing row), which SQLite and PostgreSQL both make atomic:
two processes (``omni serve`` and ``omni worker``), or a schedule and a manual run in
one process, never run the same job at once. A holder renews its lease while it works;
a holder that died (kill -9) loses the lock when the lease runs out.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from omnichannel.jsonable import jsonable
from omnichannel.opstore import OpStore
from omnichannel.opstore.models import JobLock, JobRun, JobRunStatus


def _changed(result: object) -> int:
    """Rows an UPDATE changed (SQLAlchemy types ``execute`` as the generic Result)."""
    return int(cast(CursorResult[Any], result).rowcount)


def runner_name() -> str:
    """This process, as it appears in locks and run records."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunRecord:
    """One run, as the CLI and API show it."""

    id: int
    job: str
    trigger: str
    runner: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    rows: int | None
    progress: dict[str, Any]
    detail: dict[str, Any]
    error: str | None

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job": self.job,
            "trigger": self.trigger,
            "runner": self.runner,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "seconds": self.seconds,
            "rows": self.rows,
            "progress": self.progress,
            "detail": self.detail,
            "error": self.error,
        }

    @classmethod
    def of(cls, row: JobRun) -> RunRecord:
        return cls(
            id=row.id,
            job=row.job,
            trigger=row.trigger,
            runner=row.runner,
            status=str(row.status),
            started_at=row.started_at,
            finished_at=row.finished_at,
            rows=row.rows,
            progress=dict(row.progress or {}),
            detail=dict(row.detail or {}),
            error=row.error,
        )


class JobHistory:
    """Runs and locks of one installation's jobs."""

    def __init__(self, store: OpStore) -> None:
        self.store = store

    # --- locks ---------------------------------------------------------------------

    def acquire(self, job: str, holder: str, lease: timedelta) -> bool:
        """Take the job's lock for ``lease``; False when someone else holds it."""
        now = _now()
        with self.store.session() as session:
            # Only an expired lock is taken over: a runner never re-enters its own job
            # (a manual run while the scheduled one is at work must wait too).
            taken = _changed(
                session.execute(
                    update(JobLock)
                    .where(JobLock.job == job, JobLock.expires_at < now)
                    .values(holder=holder, expires_at=now + lease)
                )
            )
        if taken:
            return True
        try:
            with self.store.session() as session:
                session.execute(
                    insert(JobLock).values(job=job, holder=holder, expires_at=now + lease)
                )
        except IntegrityError:
            return False  # the row exists and its holder is alive
        return True

    def renew(self, job: str, holder: str, lease: timedelta) -> bool:
        with self.store.session() as session:
            return bool(
                _changed(
                    session.execute(
                        update(JobLock)
                        .where(JobLock.job == job, JobLock.holder == holder)
                        .values(expires_at=_now() + lease)
                    )
                )
            )

    def release(self, job: str, holder: str) -> None:
        with self.store.session() as session:
            session.execute(delete(JobLock).where(JobLock.job == job, JobLock.holder == holder))

    def holder_of(self, job: str) -> str | None:
        with self.store.session() as session:
            row = session.get(JobLock, job)
            if row is None or row.expires_at < _now():
                return None
            return row.holder

    # --- runs ----------------------------------------------------------------------

    def start(self, job: str, trigger: str, runner: str) -> int:
        with self.store.session() as session:
            run = JobRun(job=job, trigger=trigger, runner=runner, status=JobRunStatus.RUNNING)
            session.add(run)
            session.flush()
            return int(run.id)

    def report(self, run_id: int, progress: dict[str, Any]) -> None:
        with self.store.session() as session:
            session.execute(update(JobRun).where(JobRun.id == run_id).values(progress=progress))

    def finish(
        self,
        run_id: int,
        *,
        rows: int | None = None,
        detail: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> RunRecord:
        with self.store.session() as session:
            run = session.get_one(JobRun, run_id)
            run.finished_at = _now()
            run.status = JobRunStatus.FAILED if error is not None else JobRunStatus.SUCCEEDED
            run.rows = rows
            # JSON-ready (a datetime as ISO text), as the API and CLI show it either way.
            run.detail = jsonable(detail or {})
            run.error = error
            session.flush()
            return RunRecord.of(run)

    def abandon_stale(self, job: str, runner: str) -> int:
        """Mark runs this job left 'running' in a dead process as failed; returns how many.

        Called by the holder of the job's lock: no live run of the job can exist then.
        """
        with self.store.session() as session:
            return _changed(
                session.execute(
                    update(JobRun)
                    .where(JobRun.job == job, JobRun.status == JobRunStatus.RUNNING)
                    .where(JobRun.runner != runner)
                    .values(
                        status=JobRunStatus.FAILED,
                        finished_at=_now(),
                        error="the process running it stopped before it finished",
                    )
                )
            )

    def get(self, run_id: int) -> RunRecord | None:
        with self.store.session() as session:
            row = session.get(JobRun, run_id)
            return None if row is None else RunRecord.of(row)

    def recent(self, job: str | None = None, limit: int = 20) -> list[RunRecord]:
        with self.store.session() as session:
            query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
            if job is not None:
                query = query.where(JobRun.job == job)
            return [RunRecord.of(row) for row in session.scalars(query)]

    def last(self, job: str) -> RunRecord | None:
        runs = self.recent(job, limit=1)
        return runs[0] if runs else None
