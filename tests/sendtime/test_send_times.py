"""``platform.send_times`` on tests/sendtime/world.py: shrinkage, time zones, windows, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from omnichannel.cli.main import app as cli
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.platform import Platform
from omnichannel.sendtime.labels import hour_of_week
from tests.sendtime.world import NEW_YORK, SHANGHAI

runner = CliRunner()


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(tz)


def _email(platform: Platform, user: str) -> dict:  # type: ignore[type-arg]
    return dict(platform.send_times.of(f"user_id:{user}")["channels"]["email"])


def _pid(platform: Platform, user: str) -> str:
    return str(platform.send_times.of(f"user_id:{user}")["profile_id"])


def test_thin_history_gets_the_population_peak_and_a_long_one_its_own(platform: Platform) -> None:
    peak = platform.send_times.peaks("email")[0]
    assert peak["hour_of_week"] % 24 in (19, 20, 21)  # the crowd's evenings
    thin, rich = _email(platform, "thin"), _email(platform, "rich")
    # Two clicks at 13:00 are not enough to move the estimate off the crowd's peak.
    assert thin["source"] == "population" and thin["weight_own"] < 0.2
    assert thin["hour_of_week"] == peak["hour_of_week"]
    # Two hundred mornings are.
    assert rich["source"] == "own" and rich["weight_own"] > 0.8
    assert rich["hour_of_week"] % 24 == 9 and rich["label"].endswith("09:00")
    assert rich["evidence"] == 197 and rich["engagements"] == 66
    assert len(rich["profile"]) == 168 and abs(sum(rich["profile"]) - 1) < 1e-3


def test_the_prior_strength_is_fitted_not_fixed(platform: Platform) -> None:
    strengths = platform.send_times.prior_strengths()
    # Fitted per channel from the crowd: finite, and neither of the search bounds.
    assert 1 < strengths["email"] < 10_000
    assert set(strengths) == {"email", "sms", "push", "wechat", "inbox"}


def test_a_new_yorker_is_sent_at_seven_new_york_time(platform: Platform) -> None:
    shown = platform.send_times.of("user_id:ny")
    assert shown["timezone"] == "America/New_York" and shown["timezone_known"]
    pid = shown["profile_id"]
    for after, utc_hour in ((datetime(2026, 7, 1, 3, 0), 11), (datetime(2026, 12, 1, 3, 0), 12)):
        when = platform.send_times.next_best([pid], "email", after=after)[pid]
        assert _local(when, NEW_YORK).hour == 7 and when.minute == 0
        assert when.hour == utc_hour  # EDT in July, EST in December


def test_window_edges(platform: Platform) -> None:
    pid = _pid(platform, "rich")
    best = _email(platform, "rich")["hour_of_week"]
    # The start (UTC) of rich's best hour in a week of June.
    monday = datetime(2026, 6, 1, tzinfo=SHANGHAI)
    start = (monday + timedelta(hours=best)).astimezone(UTC).replace(tzinfo=None)
    next_best = platform.send_times.next_best

    inside = start + timedelta(minutes=10)
    assert next_best([pid], "email", after=inside)[pid] == inside  # already in it: now
    before = start - timedelta(hours=1)
    # [before, start) ends where the best hour begins: it is not in the window.
    assert next_best([pid], "email", after=before, within=timedelta(hours=1))[pid] == before
    assert (
        next_best([pid], "email", after=before, within=timedelta(hours=1, seconds=1))[pid] == start
    )
    # Shorter than an hour: the only slot is `after` itself.
    short = next_best([pid], "email", after=before, within=timedelta(minutes=5))[pid]
    assert short == before
    # A day holds one 09:00; a week and a day hold the best hour of the whole week.
    day = next_best([pid], "email", after=start + timedelta(hours=2))[pid]
    assert _local(day, SHANGHAI).hour == 9 and start + timedelta(hours=2) <= day
    assert day < start + timedelta(hours=26)
    week = next_best([pid], "email", after=start + timedelta(hours=2), within=timedelta(days=8))
    assert week[pid] == start + timedelta(days=7)


def test_a_profile_without_a_row_gets_the_channel_peak(platform: Platform) -> None:
    peak = platform.send_times.peaks("email")[0]["hour_of_week"]
    after = datetime(2026, 6, 1, 0, 0)
    pid = _pid(platform, "rich")
    answer = platform.send_times.next_best(
        ["nobody", pid, "nobody"], "email", after=after, within=timedelta(days=7)
    )
    assert list(answer) == ["nobody", pid]  # one answer each, in the order asked
    assert hour_of_week(_local(answer["nobody"], SHANGHAI)) == peak
    assert after <= answer["nobody"] < after + timedelta(days=7)


def test_bad_arguments_and_unknown_people_are_refused_clearly(platform: Platform) -> None:
    after = datetime(2026, 6, 1)
    with pytest.raises(
        ValidationError, match=r"channel='fax' is not accepted: expected one of email"
    ):
        platform.send_times.next_best(["x"], "fax", after=after)
    # A channel the send path has but the model does not cover: send now.
    assert platform.send_times.next_best(["x"], "webhook", after=after) == {"x": after}
    with pytest.raises(ValidationError, match=r"within=.* positive duration"):
        platform.send_times.next_best(["x"], "email", after=after, within=timedelta(0))
    with pytest.raises(NotFoundError, match=r"no profile has identifier email:ghost@example\.com"):
        platform.send_times.of("email:ghost@example.com")
    with pytest.raises(NotFoundError, match="neither a profile id nor TYPE:VALUE"):
        platform.send_times.of("ghost")
    with pytest.raises(ValidationError, match="channel='fax'"):
        platform.send_times.peaks("fax")


def test_before_any_build_next_best_is_after_itself(tmp_path: Path) -> None:
    with Platform.open(tmp_path / "home") as fresh:
        after = datetime(2026, 6, 1, 7, 30)
        assert fresh.send_times.next_best(["p1"], "sms", after=after) == {"p1": after}
        with pytest.raises(NotFoundError, match="no send-time model is built yet"):
            fresh.send_times.of("p1")
        with pytest.raises(NotFoundError, match="omni send-times build"):
            fresh.send_times.peaks("sms")


def test_the_cli_and_the_job(platform: Platform, world_home: Path) -> None:
    home = ["--home", str(world_home)]
    shown = runner.invoke(cli, [*home, "send-times", "show", "user_id:rich", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["channels"]["email"]["source"] == "own"
    table = runner.invoke(cli, [*home, "send-times", "show", "user_id:rich"])
    assert "email" in table.output and "09:00" in table.output and "own" in table.output
    peaks = runner.invoke(cli, [*home, "send-times", "peaks", "--channel", "sms", "--json"])
    assert peaks.exit_code == 0, peaks.output
    [sms] = json.loads(peaks.output)
    assert sms["channel"] == "sms" and len(sms["hours"]) == 5
    missing = runner.invoke(cli, [*home, "send-times", "show", "user_id:ghost"])
    assert isinstance(missing.exception, NotFoundError)
    run = platform.jobs.run("send-times", options={"until": "2026-04-01"})
    assert run.status == "succeeded", run.error
    assert run.detail["until"] == "2026-04-01T00:00:00" and run.rows == run.detail["rows"]
    # Learning from March alone, rich has 30 mornings, not 200.
    assert _email(platform, "rich")["evidence"] == 30
