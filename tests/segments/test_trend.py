"""A segment's members per day from its stays: entries, exits and a person coming back."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest

from omnichannel.errors import ValidationError
from omnichannel.segments.membership import apply
from omnichannel.segments.trend import trend, trends
from omnichannel.warehouse.access import WarehouseAccess

T0 = datetime(2026, 5, 1, 9, 0)


def _ids(*profiles: str) -> pa.Table:
    return pa.table({"profile_id": pa.array(list(profiles), pa.string())})


def _days(points: list) -> list[tuple[date, int, int, int]]:  # type: ignore[type-arg]
    return [(p.day, p.members, p.entered, p.exited) for p in points]


def test_members_at_each_days_end_with_who_came_and_went(access: WarehouseAccess) -> None:
    with access.writer() as wh:
        apply(wh, "vip", _ids("p1", "p2"), now=T0, version=1)
        apply(wh, "vip", _ids("p2", "p3"), now=T0 + timedelta(days=1, hours=1), version=1)
        apply(wh, "vip", _ids("p1", "p2", "p3"), now=T0 + timedelta(days=3), version=1)
        apply(wh, "other", _ids("p9"), now=T0, version=1)
    may = [date(2026, 5, d) for d in range(1, 6)]
    with access.reader() as wh:
        week = trend(wh, "vip", days=5, now=T0 + timedelta(days=4, hours=3))
        # A window that starts after p1 came in and before p1 left (p1 is counted at its start).
        late = trend(wh, "vip", days=2, now=T0 + timedelta(days=2))
        both = trends(wh, ["vip", "other", "empty"], days=1, now=T0)
    assert _days(week) == [
        (may[0], 2, 2, 0),
        (may[1], 2, 1, 1),  # p1 left, p3 came
        (may[2], 2, 0, 0),
        (may[3], 3, 1, 0),  # p1 came back: a second stay
        (may[4], 3, 0, 0),
    ]
    assert _days(late) == [(may[1], 2, 1, 1), (may[2], 2, 0, 0)]
    assert {name: _days(points) for name, points in both.items()} == {
        "vip": [(may[0], 2, 2, 0)],
        "other": [(may[0], 1, 1, 0)],
        "empty": [(may[0], 0, 0, 0)],
    }


@pytest.mark.parametrize("days", [0, 367, -1])
def test_a_window_out_of_range_is_refused_naming_days(access: WarehouseAccess, days: int) -> None:
    with access.reader() as wh, pytest.raises(ValidationError, match="days=") as refused:
        trend(wh, "vip", days=days, now=T0)
    assert refused.value.field == "days"
