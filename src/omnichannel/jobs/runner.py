"""Runs registered jobs: on their schedule (APScheduler), or now, never two runs at once.

Each run takes the job's lock in the operational store (see ``history``), records its
start, progress, outcome or error there, renews its lease while it works, and releases
the lock at the end. The schedule uses APScheduler's background scheduler with one
instance per job and coalesced misfires: a run that overruns its period delays the next
one instead of stacking them up.

Example::

    runner = JobRunner(registry, JobHistory(opstore), platform)
    record = runner.run("profiles")         # now, in this thread
    run_id = runner.submit("profiles")      # now, in a thread of its own
    runner.start()                          # every job on its schedule until stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from omnichannel.errors import ConflictError, OmniError
from omnichannel.jobs.history import JobHistory, RunRecord, runner_name
from omnichannel.jobs.registry import Job, JobRegistry, Progress

log = logging.getLogger(__name__)

# How often a running job's progress is written to the operational store, at most.
PROGRESS_INTERVAL = 1.0


class JobBusy(ConflictError):
    """The job is running already (in this process or another)."""


@dataclass
class _Started:
    job: Job
    run_id: int
    trigger: str
    options: Mapping[str, Any]


class JobRunner:
    """Schedules and runs one installation's jobs; ``platform`` is passed to each job."""

    def __init__(
        self,
        registry: JobRegistry,
        history: JobHistory,
        platform: Any,
        *,
        schedules: Mapping[str, timedelta | None] | None = None,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.registry = registry
        self.history = history
        self.platform = platform
        self.schedules = dict(schedules or {})
        for name in self.schedules:
            registry.get(name)  # a schedule for a job nobody registered is a typo
        self.lease = lease
        self.name = runner_name()
        self._scheduler: Any = None
        self._threads: list[threading.Thread] = []
        # Told of every finished run (the server counts them in /metrics).
        self.on_finish: list[Callable[[RunRecord], None]] = []

    def period(self, job: Job) -> timedelta | None:
        """How often the job runs here: its setting when there is one, else its default."""
        return self.schedules.get(job.name, job.every)

    # --- running -------------------------------------------------------------------

    def _begin(self, name: str, trigger: str, options: Mapping[str, Any] | None) -> _Started:
        job = self.registry.get(name)
        if not self.history.acquire(job.name, self.name, self.lease):
            holder = self.history.holder_of(job.name) or "another runner"
            raise JobBusy(
                f"job {job.name!r} is running already ({holder}); wait for it to finish "
                f"(omni jobs list) or try again later"
            )
        self.history.abandon_stale(job.name, self.name)
        run_id = self.history.start(job.name, trigger, self.name)
        return _Started(job, run_id, trigger, dict(options or {}))

    def _execute(self, started: _Started, observer: Progress | None = None) -> RunRecord:
        job, run_id = started.job, started.run_id
        stop_renewing = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(job.name, stop_renewing), name=f"job-lease-{job.name}"
        )
        renewer.daemon = True
        renewer.start()
        last_report = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            if observer is not None:
                observer(stage, done, total)
            now = time.monotonic()
            if now - last_report[0] >= PROGRESS_INTERVAL or (total and done >= total):
                last_report[0] = now
                try:
                    self.history.report(run_id, {"stage": stage, "done": done, "total": total})
                except Exception:  # progress is best effort; the run itself goes on
                    log.exception("job could not record progress", extra={"job": job.name})

        began = time.monotonic()
        fields = {"job": job.name, "run_id": run_id, "trigger": started.trigger}
        log.info("job started", extra=fields)
        try:
            outcome = job.run(self.platform, progress, started.options)
        except OmniError as exc:
            # Refused on purpose (a bad option, a bad rules file): the message says why.
            seconds = round(time.monotonic() - began, 3)
            log.warning("job refused", extra={**fields, "seconds": seconds, "error": str(exc)})
            record = self.history.finish(run_id, error=str(exc))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            seconds = round(time.monotonic() - began, 3)
            log.exception("job failed", extra={**fields, "seconds": seconds, "error": error})
            record = self.history.finish(run_id, error=error)
        else:
            record = self.history.finish(run_id, rows=outcome.rows, detail=outcome.detail)
            seconds = round(time.monotonic() - began, 3)
            log.info("job finished", extra={**fields, "seconds": seconds, "rows": outcome.rows})
        finally:
            stop_renewing.set()
            renewer.join()
            self.history.release(job.name, self.name)
        for listener in self.on_finish:
            try:
                listener(record)
            except Exception:
                log.exception("job run listener failed", extra={"job": job.name})
        return record

    def _renew(self, job: str, stop: threading.Event) -> None:
        while not stop.wait(self.lease.total_seconds() / 3):
            try:
                self.history.renew(job, self.name, self.lease)
            except Exception:
                log.exception("job could not renew its lock", extra={"job": job})

    def run(
        self,
        name: str,
        *,
        options: Mapping[str, Any] | None = None,
        trigger: str = "manual",
        progress: Progress | None = None,
    ) -> RunRecord:
        """Run the job now in this thread; raises ``JobBusy`` if it is running already.

        ``progress(stage, done, total)`` also sees every report (a CLI's progress bars).
        """
        return self._execute(self._begin(name, trigger, options), progress)

    def submit(
        self, name: str, *, options: Mapping[str, Any] | None = None, trigger: str = "manual"
    ) -> int:
        """Start the job now in a thread of its own; returns the run id to follow it by."""
        started = self._begin(name, trigger, options)
        thread = threading.Thread(
            target=self._execute, args=(started,), name=f"job-{started.job.name}", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return started.run_id

    # --- schedule ------------------------------------------------------------------

    def _scheduled(self, name: str) -> None:
        try:
            self.run(name, trigger="schedule")
        except JobBusy as exc:
            log.info("job run skipped", extra={"job": name, "reason": str(exc)})
        except Exception:
            log.exception("job scheduled run could not start", extra={"job": name})

    def start(self) -> None:
        """Run every job with a period on its schedule, in background threads (once: a
        second call, e.g. a retried server start, leaves the running scheduler be)."""
        if self._scheduler is not None:
            return
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        scheduler = BackgroundScheduler(timezone=UTC)
        for job in self.registry:
            every = self.period(job)
            if every is None:
                continue
            scheduler.add_job(
                self._scheduled,
                IntervalTrigger(seconds=every.total_seconds(), timezone=UTC),
                args=[job.name],
                id=job.name,
                name=job.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        scheduler.start()
        self._scheduler = scheduler
        periods = {j.name: p.total_seconds() for j in self.registry if (p := self.period(j))}
        log.info("job scheduler started", extra={"runner": self.name, "every_seconds": periods})

    def stop(self, timeout: float = 60) -> None:
        """Stop scheduling; wait for runs in progress (up to ``timeout`` seconds each)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        for thread in self._threads:
            thread.join(timeout)

    def next_run(self, name: str) -> datetime | None:
        if self._scheduler is None:
            return None
        scheduled = self._scheduler.get_job(name)
        return None if scheduled is None else scheduled.next_run_time

    def describe(self) -> list[dict[str, Any]]:
        """Every job: what it does, how often, who runs it now, and its last run."""
        rows = []
        for job in self.registry:
            every = self.period(job)
            last = self.history.last(job.name)
            upcoming = self.next_run(job.name)
            rows.append(
                {
                    "name": job.name,
                    "description": job.description,
                    "every_seconds": None if every is None else every.total_seconds(),
                    "running": self.history.holder_of(job.name),
                    "next_run": upcoming.isoformat() if upcoming else None,
                    "last_run": None if last is None else last.public(),
                }
            )
        return rows
