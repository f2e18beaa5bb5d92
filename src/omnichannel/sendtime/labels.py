"""Hours of week as people read them: 0 is ``Mon 00:00``, 43 is ``Tue 19:00``."""

from __future__ import annotations

from datetime import datetime

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hour_label(hour_of_week: int) -> str:
    """``Tue 19:00`` for 43."""
    day, hour = divmod(int(hour_of_week) % 168, 24)
    return f"{DAYS[day]} {hour:02d}:00"


def hour_of_week(local: datetime) -> int:
    """The hour of week a local time falls in (Monday 00:00 = 0)."""
    return local.weekday() * 24 + local.hour
