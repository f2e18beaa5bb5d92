"""A segment's size day by day: members at the end of each of the last N days (UTC), with
how many came in and left that day, read from the stays of ``segment_memberships``.

Members at the end of a day are the stays entered before its end and not exited by then.
Two grouped queries answer any length of window: the stays open at the window's start,
and the entries and exits per day inside it; the days are then summed up in order.

Example::

    with platform.warehouse.reader() as wh:
        points = trend(wh, "vip", days=30, now=datetime.now(UTC))
    [(p.day, p.members, p.entered, p.exited) for p in points][-1]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import ibis

from omnichannel.errors import ValidationError
from omnichannel.segments.membership import MEMBERSHIPS
from omnichannel.warehouse import Warehouse

MAX_DAYS = 366


@dataclass(frozen=True)
class TrendPoint:
    day: date  # a UTC day
    members: int  # at the day's end (now, for today)
    entered: int  # stays that began that day
    exited: int  # stays that ended that day

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["day"] = self.day.isoformat()
        return found


def check_days(days: int) -> int:
    """``days`` if it is a window the trend reads (1 to 366); a ValidationError if not."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError("days", days, f"a whole number of days from 1 to {MAX_DAYS}")
    return days


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def trend(wh: Warehouse, segment: str, *, days: int, now: datetime) -> list[TrendPoint]:
    """The last ``days`` UTC days of ``segment`` up to ``now``'s day, oldest first."""
    return trends(wh, [segment], days=days, now=now)[segment]


def trends(
    wh: Warehouse, segments: list[str], *, days: int, now: datetime
) -> dict[str, list[TrendPoint]]:
    """``trend`` of several segments at once (the same two queries, grouped by segment)."""
    check_days(days)
    today = _naive(now).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time())
    m = wh.table(MEMBERSHIPS)
    stays = m.filter(m.segment.isin(segments)) if segments else m.filter(ibis.literal(False))
    at_start = stays.filter(
        stays.entered_at < start, stays.exited_at.isnull() | (stays.exited_at >= start)
    )
    bases = {
        r["segment"]: int(r["n"])
        for r in at_start.group_by("segment").agg(n=at_start.count()).to_pyarrow().to_pylist()
    }
    entered = stays.filter(stays.entered_at >= start).select(
        "segment", day=stays.entered_at.date(), entered=ibis.literal(1), exited=ibis.literal(0)
    )
    left = stays.filter(stays.exited_at.notnull() & (stays.exited_at >= start)).select(
        "segment", day=stays.exited_at.date(), entered=ibis.literal(0), exited=ibis.literal(1)
    )
    moves = entered.union(left, distinct=False)
    per_day = moves.group_by(["segment", "day"]).agg(
        entered=moves.entered.sum(), exited=moves.exited.sum()
    )
    changes = {
        (r["segment"], _day(r["day"])): (int(r["entered"] or 0), int(r["exited"] or 0))
        for r in per_day.to_pyarrow().to_pylist()
    }
    found: dict[str, list[TrendPoint]] = {}
    for segment in segments:
        points, members = [], bases.get(segment, 0)
        for offset in range(days):
            day = first + timedelta(days=offset)
            came, went = changes.get((segment, day), (0, 0))
            members += came - went
            points.append(TrendPoint(day=day, members=members, entered=came, exited=went))
        found[segment] = points
    return found


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value
