"""A small installation whose people keep known hours, for the send-time tests.

- 120 people alike: evening people (a peak near 20:00, hours scattered about three hours
  either side of it), 40 active hours each, a third of them email clicks;
- ``thin``: two email clicks, Mondays at 13:00 (too little to trust);
- ``rich``: 197 active hours, every day at 09:00, a third of them email clicks;
- ``ny``: 120 mornings at 07:00 New York time (events carry ``America/New_York``), across
  the change to daylight-saving time on 8 March 2026.

Events carry no time zone unless said, so they are in the installation's (Asia/Shanghai).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from omnichannel.platform import Platform
from tests.profiles.support import T0, add_events, add_identities

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
CROWD = 120


def _utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _event(user: str, local: datetime, opened: bool, tz: ZoneInfo = SHANGHAI) -> dict[str, Any]:
    event = {
        "user": user,
        "at": _utc(local, tz),
        "event": "Email Link Clicked" if opened else "Page Viewed",
    }
    if tz is not SHANGHAI:
        event["tz"] = tz.key
    return event


def world_events(seed: int = 3) -> tuple[list[str], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    users = [f"u{i}" for i in range(CROWD)]
    events: list[dict[str, Any]] = []
    for user in users:
        peak = 20 + rng.normal(0, 0.5)
        for day in rng.choice(70, size=40, replace=False):
            hour = round(float(peak + rng.normal(0, 3.0))) % 24
            local = T0 + timedelta(days=int(day), hours=hour, minutes=10)
            events.append(_event(user, local, opened=bool(rng.random() < 1 / 3)))
    for week in range(2):
        events.append(_event("thin", T0 + timedelta(weeks=week, hours=13, minutes=5), True))
    for day in range(197):  # 29 Mondays, 28 of every other day: Monday is the best
        events.append(_event("rich", T0 + timedelta(days=day, hours=9, minutes=5), day % 3 == 0))
    for day in range(120):
        local = T0 + timedelta(days=day, hours=7, minutes=5)
        events.append(_event("ny", local, day % 2 == 0, NEW_YORK))
    return [*users, "thin", "rich", "ny"], events


def build_world(home: Path) -> None:
    """The installation at ``home``: events loaded, identities resolved, nothing else built."""
    users, events = world_events()
    with Platform.open(home) as platform:
        with platform.warehouse.writer() as wh:
            add_identities(wh, users)
            add_events(wh, events)
        platform.identity.resolve()
