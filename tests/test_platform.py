"""The installation object: what the CLI does, a Python user does from one object."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnichannel.errors import ConfigError, ValidationError
from omnichannel.platform import Platform
from tests.profiles.support import T0, add_events, add_identities, add_orders


def _business(platform: Platform) -> None:
    with platform.warehouse.writer() as wh:
        add_identities(wh, ["u1", "u2"])
        add_orders(wh, [{"id": "o1", "user": "u1", "day": 3, "total": 120, "channel": "web"}])
        add_events(wh, [{"user": "u1", "at": T0, "event": "Product Viewed"}])


def test_resolve_build_and_look_up_a_person_from_one_object(tmp_path: Path) -> None:
    with Platform.open(tmp_path / "home") as platform:
        _business(platform)
        report = platform.identity.resolve()
        assert report.profiles == 2
        built = platform.profiles.build()
        assert built.status == "built" and built.profiles == 2
        card = platform.profiles.card("user_id:u1")
        assert card["identifiers"]["user_id"] == ["u1"]
        assert [o["kind"] for o in card["orders"]] == ["order"]


def test_the_profiles_job_is_recorded_and_skips_an_unchanged_build(tmp_path: Path) -> None:
    with Platform.open(tmp_path / "home") as platform:
        _business(platform)
        first = platform.jobs.run("profiles")
        assert first.status == "succeeded", first.error
        assert first.rows == 2 and first.detail["build"] == "built"
        second = platform.jobs.run("profiles")
        assert second.detail["build"] == "unchanged"
        listed = {row["name"]: row for row in platform.jobs.describe()}
        assert set(listed) == {
            "alerts",
            "audiences",
            "backup",
            "budget-loop",
            "identity",
            "inbox",
            "ingest",
            "journey-entries",
            "linkage",
            "models-retrain",
            "partners-purge",
            "price-check",
            "profiles",
            "profiles-build",
            "reports",
            "reservations-expire",
            "retention",
            "segments",
            "send-times",
        }
        assert listed["profiles"]["every_seconds"] == 900
        assert listed["profiles"]["last_run"]["id"] == second.id


def test_job_schedules_come_from_the_settings(tmp_path: Path) -> None:
    with Platform.open(tmp_path / "home", job_schedules="profiles=5m, linkage=1d") as platform:
        listed = {row["name"]: row["every_seconds"] for row in platform.jobs.describe()}
    assert listed["linkage"] == 86400 and listed["profiles"] == 300
    assert listed["identity"] is None


def test_a_schedule_for_an_unknown_job_or_a_bad_period_is_refused(tmp_path: Path) -> None:
    with (
        Platform.open(tmp_path / "home", job_schedules="profile=5m") as platform,
        pytest.raises(
            ValidationError,
            match=r"job='profile' is not accepted: expected one of .*, profiles, profiles-build, ",
        ),
    ):
        platform.jobs.describe()
    with pytest.raises(ConfigError, match="name=period"):
        Platform.open(tmp_path / "home", job_schedules="5m").settings.job_periods()
