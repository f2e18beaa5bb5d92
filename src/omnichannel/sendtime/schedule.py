"""From a person's 168-hour profile to a moment: the best hour inside a window, in UTC.

A window ``[after, after + within)`` is cut at the person's local hour boundaries into
slots (the first one starts at ``after`` itself); each slot is one local hour of week.
The chosen slot is the one whose hour the person's profile rates highest, the earliest
on a tie, and the moment is its start (``after`` for the first slot). A window of a week
or more holds every hour, so the answer is then the first occurrence of the person's
overall best hour. Local hours come from ``zoneinfo``, so a window across a
daylight-saving change has 23 or 25 slots per day, as the person's clock does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from omnichannel.errors import ValidationError
from omnichannel.sendtime.evidence import HOURS_PER_WEEK
from omnichannel.sendtime.labels import hour_of_week

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Slots:
    """The local hours a window covers: hour of week and first moment (naive UTC) of each."""

    hours: np.ndarray
    moments: list[datetime]


def naive_utc(value: datetime, field: str = "after") -> datetime:
    """A naive UTC datetime (the warehouse's form); an aware one is converted."""
    if not isinstance(value, datetime):
        raise ValidationError(field, value, "a datetime (naive UTC, or with a time zone)")
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def checked_within(within: timedelta) -> timedelta:
    if not isinstance(within, timedelta) or within <= timedelta(0):
        raise ValidationError("within", within, "a positive duration such as 24 hours")
    return within


def zone_or(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """The person's zone, else the installation's (also for a name this machine lacks)."""
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def window_slots(after: datetime, within: timedelta, tz: ZoneInfo) -> Slots:
    """The slots of ``[after, after + within)`` in ``tz`` (at most one week of them)."""
    end = after + within
    local = after.replace(tzinfo=UTC).astimezone(tz)
    start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    first = start.replace(tzinfo=None)
    hours: list[int] = []
    moments: list[datetime] = []
    # Local hour boundaries are an hour apart in UTC too (offsets change by whole hours
    # or, in a few zones, half hours that keep the boundary grid), so step in UTC.
    for k in range(HOURS_PER_WEEK + 1):
        slot = first + k * HOUR
        moment = max(after, slot)
        if moment >= end:
            break
        hours.append(hour_of_week((start + k * HOUR).astimezone(tz)))
        moments.append(moment)
    return Slots(np.asarray(hours, dtype=np.int64), moments)


def best_moments(profiles: np.ndarray, slots: Slots) -> list[datetime]:
    """For each row of ``profiles`` (168 shares), the first moment of its best slot."""
    if len(slots.moments) == 0:
        raise AssertionError("a positive window has at least one slot")
    scores = profiles[:, slots.hours]
    chosen = np.argmax(scores, axis=1)  # the first maximum: the earliest slot on a tie
    return [slots.moments[int(i)] for i in chosen]
