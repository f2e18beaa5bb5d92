"""Background jobs: a registry, a runner on APScheduler, and run history with locks."""

from __future__ import annotations

from omnichannel.jobs.history import JobHistory, RunRecord
from omnichannel.jobs.registry import Job, JobOutcome, JobRegistry, parse_period
from omnichannel.jobs.runner import JobBusy, JobRunner

__all__ = [
    "Job",
    "JobBusy",
    "JobHistory",
    "JobOutcome",
    "JobRegistry",
    "JobRunner",
    "RunRecord",
    "parse_period",
]
