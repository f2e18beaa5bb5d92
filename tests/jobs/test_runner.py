"""Background jobs: history, locks that keep runs apart, schedules (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omnichannel.errors import ValidationError
from omnichannel.jobs import Job, JobBusy, JobHistory, JobOutcome, JobRegistry, JobRunner
from omnichannel.jobs.registry import format_period, parse_period
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.opstore.models import JobLock, JobRun, JobRunStatus


def _counting_job(name: str = "count", every: timedelta | None = None) -> Job:
    def run(platform: Any, progress: Any, options: Any) -> JobOutcome:
        progress("counting", 3, 3)
        platform["runs"] += 1
        return JobOutcome(rows=42, detail={"note": "counted"})

    return Job(name, "Counts its runs.", run, every=every)


def test_a_run_is_recorded_with_its_rows_detail_and_progress(store: OpStore) -> None:
    platform = {"runs": 0}
    runner = JobRunner(JobRegistry({"count": _counting_job()}), JobHistory(store), platform)
    record = runner.run("count")
    assert record.status == "succeeded" and record.rows == 42
    assert record.detail == {"note": "counted"} and record.error is None
    [listed] = JobHistory(store).recent("count")
    assert listed.id == record.id and listed.progress == {
        "stage": "counting",
        "done": 3,
        "total": 3,
    }
    assert listed.trigger == "manual" and listed.seconds is not None
    assert platform["runs"] == 1


def test_a_failing_job_is_recorded_with_its_error_and_releases_its_lock(store: OpStore) -> None:
    calls = {"n": 0}

    def flaky(platform: Any, progress: Any, options: Any) -> JobOutcome:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("warehouse unreachable")
        return JobOutcome(rows=1)

    runner = JobRunner(JobRegistry({"flaky": Job("flaky", "", flaky)}), JobHistory(store), None)
    failed = runner.run("flaky")
    assert failed.status == "failed"
    assert failed.error == "RuntimeError: warehouse unreachable"
    assert runner.run("flaky").status == "succeeded"


def _blocking_job(entered: threading.Event, release: threading.Event) -> Job:
    def run(platform: Any, progress: Any, options: Any) -> JobOutcome:
        entered.set()
        release.wait(30)
        return JobOutcome(rows=1)

    return Job("rebuild", "Blocks until released.", run)


def test_two_runs_of_a_job_never_overlap_in_one_process_or_two(store: OpStore, opstore_url: str):
    entered, release = threading.Event(), threading.Event()
    registry = JobRegistry({"rebuild": _blocking_job(entered, release)})
    here = JobRunner(registry, JobHistory(store), None)
    other_store = open_opstore(opstore_url)  # what `omni worker` in another process sees
    elsewhere = JobRunner(registry, JobHistory(other_store), None)
    try:
        run_id = here.submit("rebuild")
        assert entered.wait(30)
        with pytest.raises(JobBusy, match="running already"):
            here.run("rebuild")  # the scheduled run is at work: a manual one must wait
        with pytest.raises(JobBusy, match=here.name):
            elsewhere.run("rebuild")
        release.set()
        here.stop()
        record = JobHistory(store).get(run_id)
        assert record is not None and record.status == "succeeded"
        assert elsewhere.run("rebuild").status == "succeeded"  # free again afterwards
    finally:
        release.set()
        other_store.close()


def test_a_lock_left_by_a_dead_process_expires_and_its_run_is_marked_failed(store: OpStore):
    with store.session() as session:
        session.add(
            JobRun(
                job="count", trigger="schedule", runner="gone:1:abc", status=JobRunStatus.RUNNING
            )
        )
        session.add(
            JobLock(
                job="count",
                holder="gone:1:abc",
                expires_at=datetime.now(UTC) - timedelta(seconds=1),
            )
        )
    runner = JobRunner(JobRegistry({"count": _counting_job()}), JobHistory(store), {"runs": 0})
    assert runner.run("count").status == "succeeded"
    stale = JobHistory(store).recent("count")[-1]
    assert stale.runner == "gone:1:abc" and stale.status == "failed"
    assert "stopped before it finished" in (stale.error or "")


def test_a_live_lock_of_another_process_is_respected(store: OpStore) -> None:
    with store.session() as session:
        session.add(
            JobLock(
                job="count",
                holder="worker:7:def",
                expires_at=datetime.now(UTC) + timedelta(minutes=5),
            )
        )
    runner = JobRunner(JobRegistry({"count": _counting_job()}), JobHistory(store), {"runs": 0})
    with pytest.raises(JobBusy, match="worker:7:def"):
        runner.run("count")


def test_the_schedule_runs_a_job_repeatedly_and_a_setting_overrides_its_period(store: OpStore):
    platform = {"runs": 0}
    registry = JobRegistry({"count": _counting_job(every=None)})
    runner = JobRunner(
        registry, JobHistory(store), platform, schedules={"count": timedelta(seconds=1)}
    )
    assert runner.describe()[0]["every_seconds"] == 1.0
    runner.start()
    try:
        assert runner.next_run("count") is not None
        deadline = time.monotonic() + 30
        while platform["runs"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runner.stop()
    assert platform["runs"] >= 2
    assert {r.trigger for r in JobHistory(store).recent("count")} == {"schedule"}


def test_an_unknown_job_names_the_known_ones(store: OpStore) -> None:
    runner = JobRunner(JobRegistry({"count": _counting_job()}), JobHistory(store), None)
    with pytest.raises(ValidationError, match="job='nope' is not accepted: expected one of count"):
        runner.run("nope")


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("15m", 900), ("2h", 7200), ("PT15M", 900), ("P1DT1H", 90000), (30, 30), ("off", None)],
)
def test_schedule_settings_read_as_people_write_them(given: object, seconds: float | None):
    period = parse_period(given, field_name="jobs.count")  # type: ignore[arg-type]
    assert (None if period is None else period.total_seconds()) == seconds


@pytest.mark.parametrize(
    ("given", "shown"),
    [("15m", "15m"), ("PT2H", "2h"), ("P1DT1H", "25h"), ("90", "90s"), ("1.5", "1.5s")],
)
def test_a_schedule_is_shown_in_the_largest_whole_unit_it_can_be_set_in(given: str, shown: str):
    period = parse_period(given, field_name="jobs.count")
    assert period is not None and format_period(period.total_seconds()) == shown
    assert parse_period(shown, field_name="jobs.count") == period  # what is shown can be set
    assert format_period(None) is None


def test_a_bad_schedule_setting_names_the_setting_and_what_is_accepted() -> None:
    with pytest.raises(ValidationError, match=r"jobs.count='every hour'.*ISO 8601"):
        parse_period("every hour", field_name="jobs.count")
