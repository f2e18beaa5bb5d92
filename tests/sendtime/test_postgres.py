"""The same build and reads on PostgreSQL (the parameterised statements of reads.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omnichannel.config import Settings
from omnichannel.platform import Platform
from tests.profiles.support import T0, add_events, add_identities
from tests.sendtime.world import SHANGHAI, _event

pytestmark = pytest.mark.postgres


def test_build_next_best_and_of_on_postgres(tmp_path: Path, postgres_database: str) -> None:
    url = postgres_database.replace("postgresql://", "postgres://", 1)
    users = [f"u{i}" for i in range(12)]
    events = [
        _event(user, T0 + timedelta(days=day, hours=20 + i % 3, minutes=5), day % 2 == 0)
        for i, user in enumerate(users)
        for day in range(10)
    ]
    events += [_event("early", T0 + timedelta(days=d, hours=7, minutes=5), True) for d in range(60)]
    with Platform(Settings(home=tmp_path / "home", warehouse_url=url)) as platform:
        with platform.warehouse.writer() as wh:
            add_identities(wh, [*users, "early"])
            add_events(wh, events)
        platform.identity.resolve()
        report = platform.send_times.build()
        assert report.profiles == 13 and report.rows == 65
        shown = platform.send_times.of("user_id:early")
        email = shown["channels"]["email"]
        assert email["source"] == "own" and email["label"].endswith("07:00")
        pid = shown["profile_id"]
        after = datetime(2026, 6, 1, 0, 0)
        answer = platform.send_times.next_best([pid, "nobody"], "email", after=after)
        local = answer[pid].replace(tzinfo=UTC).astimezone(SHANGHAI)
        assert local.hour == 7 and after <= answer[pid] < after + timedelta(days=1)
        peak = platform.send_times.peaks("email")[0]["hour_of_week"]
        assert answer["nobody"].replace(tzinfo=UTC).astimezone(SHANGHAI).hour == peak % 24
