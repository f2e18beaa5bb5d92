"""When a scheduled report is next due: every day, week or month at an hour (UTC).

Example::

    schedule = check_schedule({"every": "week", "weekday": 0, "hour": 7})   # Mondays 07:00
    next_due(schedule, after=datetime(2026, 6, 3, tzinfo=UTC))             # 2026-06-08 07:00
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from omnichannel.errors import ValidationError

EVERY = ("day", "week", "month")


def _int(schedule: Mapping[str, Any], key: str, low: int, high: int, default: int) -> int:
    value = schedule.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"schedule.{key}", value, f"a whole number from {low} to {high}")
    return value


def check_schedule(schedule: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The schedule, checked and with its defaults; None (no schedule) stays None."""
    if schedule is None:
        return None
    if not isinstance(schedule, Mapping):
        raise ValidationError("schedule", schedule, "an object such as {every: week, hour: 7}")
    unknown = set(schedule) - {"every", "hour", "weekday", "day"}
    if unknown:
        key = sorted(unknown)[0]
        raise ValidationError(f"schedule.{key}", schedule[key], "only every, hour, weekday, day")
    every = schedule.get("every")
    if every not in EVERY:
        raise ValidationError("schedule.every", every, "one of " + ", ".join(EVERY))
    out: dict[str, Any] = {"every": every, "hour": _int(schedule, "hour", 0, 23, 7)}
    if every == "week":
        out["weekday"] = _int(schedule, "weekday", 0, 6, 0)  # 0 Monday
    if every == "month":
        out["day"] = _int(schedule, "day", 1, 28, 1)
    return out


def next_due(schedule: Mapping[str, Any], *, after: datetime) -> datetime:
    """The first moment strictly after ``after`` the schedule names."""
    after = after.astimezone(UTC)
    at = after.replace(hour=int(schedule["hour"]), minute=0, second=0, microsecond=0)
    every = schedule["every"]
    if every == "day":
        return at if at > after else at + timedelta(days=1)
    if every == "week":
        at += timedelta(days=(int(schedule["weekday"]) - at.weekday()) % 7)
        return at if at > after else at + timedelta(days=7)
    at = at.replace(day=int(schedule["day"]))
    if at > after:
        return at
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return at.replace(year=year, month=month)
