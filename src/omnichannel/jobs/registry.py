"""What a background job is, and the registry of the jobs an installation can run.

A job is a named function of the installation, with a default period (or none: run on
demand only). Capabilities register their jobs here (identity and profiles now;
segment refresh, journey timers and retraining as they land); ``omni serve`` and
``omni worker`` schedule them, ``omni jobs run NAME`` and ``POST /api/jobs/NAME/runs``
start one now, and every run is recorded (see ``history``).

Example::

    registry = JobRegistry()
    registry.register(Job("vacuum", "Compact the warehouse.", vacuum, every=timedelta(hours=6)))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from omnichannel.errors import ValidationError

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None: ...


@dataclass
class JobOutcome:
    """What a run did: rows written (the headline figure) and a summary for people."""

    rows: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


# run(platform, progress, options): options are what the caller asked for this run
# (e.g. {"full": true}); a scheduled run has none, so every option needs a default.
JobFunction = Callable[[Any, Progress, Mapping[str, Any]], JobOutcome]


@dataclass(frozen=True)
class Job:
    """A named unit of background work; ``run(platform, progress, options)`` does it once."""

    name: str
    description: str
    run: JobFunction
    # Default period between runs; None: only on demand. A setting overrides it.
    every: timedelta | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValidationError(
                "job name", self.name, "lower-case letters, digits and dashes, e.g. profiles"
            )


class JobRegistry:
    """The jobs an installation knows, by name."""

    def __init__(self, jobs: Mapping[str, Job] | None = None) -> None:
        self._jobs: dict[str, Job] = dict(jobs or {})

    def register(self, job: Job) -> Job:
        if job.name in self._jobs:
            raise ValidationError("job name", job.name, "a name not registered yet")
        self._jobs[job.name] = job
        return job

    def get(self, name: str) -> Job:
        try:
            return self._jobs[name]
        except KeyError:
            known = ", ".join(sorted(self._jobs)) or "(none registered)"
            raise ValidationError("job", name, f"one of {known}") from None

    def __iter__(self) -> Iterator[Job]:
        return iter(sorted(self._jobs.values(), key=lambda job: job.name))

    def __len__(self) -> int:
        return len(self._jobs)


def format_period(seconds: float | None) -> str | None:
    """A period in the largest whole unit ``parse_period`` reads (``15m``, ``2h``, ``1d``,
    ``90s``); None for a job with no schedule. The CLI and the page say "every" around it."""
    if seconds is None:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_period(value: str | float | int | None, *, field_name: str) -> timedelta | None:
    """A schedule setting: seconds, ``15m``/``2h``/``1d``, an ISO 8601 duration, or ``off``."""
    if value is None:
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        if text in ("off", "never", "manual", "0"):
            return None
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", text)
        if match:
            unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
            seconds = float(match.group(1)) * unit
        else:
            seconds = _iso_duration_seconds(text, field_name)
    if seconds <= 0:
        return None
    if seconds < 1:
        raise ValidationError(field_name, value, "a period of at least one second, or off")
    return timedelta(seconds=seconds)


def _iso_duration_seconds(text: str, field_name: str) -> float:
    match = re.fullmatch(r"p(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?)?", text)
    if not match or not any(match.groups()):
        raise ValidationError(
            field_name,
            text,
            "seconds, a number with s/m/h/d (15m), an ISO 8601 duration (PT15M), or off",
        )
    days, hours, minutes, seconds = match.groups()
    return (
        int(days or 0) * 86400
        + int(hours or 0) * 3600
        + int(minutes or 0) * 60
        + float(seconds or 0)
    )
