"""Structured logs: one JSON object per line (or text at a terminal), fields, no secrets."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from omnichannel.api import create_app
from omnichannel.config import Settings, get_settings
from omnichannel.consumers import Checkpoints, ConsumerRunner, FunctionConsumer
from omnichannel.errors import ConfigError
from omnichannel.ingest.loader import Loader, encode_record
from omnichannel.ingest.log import EventLog
from omnichannel.ingest.segment import Limits, parse_calls
from omnichannel.jobs import Job, JobHistory, JobOutcome, JobRegistry, JobRunner
from omnichannel.logs import configure_logging
from omnichannel.opstore import open_opstore
from omnichannel.server_runtime import read_runtime
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.access import WarehouseAccess
from tests.support.collector import (
    bearer,
    make_admin_token,
    make_source,
    running_server,
    wait_until_loaded,
)

NOW = datetime(2025, 6, 1, 12, 0, 0)


def _events(count: int) -> pa.Table:
    """Stored events numbered 1..count, as the loader writes them."""
    return pa.table(
        {
            "message_id": [f"m{i}" for i in range(1, count + 1)],
            "type": ["track"] * count,
            "event": ["Product Viewed"] * count,
            "load_seq": pa.array(range(1, count + 1), pa.int64()),
        }
    )


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a console's stderr does."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.usefixtures("restore_logging")
def test_auto_writes_json_when_not_a_terminal_and_text_at_one() -> None:
    piped, terminal = io.StringIO(), Terminal()
    assert configure_logging("INFO", "auto", stream=piped) == "json"
    logging.getLogger("omnichannel.test").info("job finished", extra={"job": "profiles", "rows": 3})
    assert configure_logging("INFO", "auto", stream=terminal) == "text"
    logging.getLogger("omnichannel.test").info("job finished", extra={"job": "profiles", "rows": 3})
    (line,) = _lines(piped)
    assert line["level"] == "INFO" and line["logger"] == "omnichannel.test"
    assert line["message"] == "job finished" and line["job"] == "profiles" and line["rows"] == 3
    assert line["time"].endswith("Z") and line["time"][10] == "T"  # ISO 8601, UTC
    text = terminal.getvalue()
    assert not text.startswith("{")
    assert "INFO" in text and "job finished job=profiles rows=3" in text


@pytest.mark.usefixtures("restore_logging")
def test_the_level_setting_filters_and_a_bad_level_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    configure_logging("WARNING", "json", stream=stream)
    logging.getLogger("omnichannel.test").info("quiet")
    logging.getLogger("omnichannel.test").warning("loud")
    assert [line["message"] for line in _lines(stream)] == ["loud"]
    monkeypatch.setenv("OMNI_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match=r"OMNI_LOG_LEVEL='loud' is not accepted: .*DEBUG, INFO"):
        get_settings()
    monkeypatch.setenv("OMNI_LOG_LEVEL", "debug")
    monkeypatch.setenv("OMNI_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match=r"OMNI_LOG_FORMAT='xml' is not accepted: .*'json'"):
        get_settings()


@pytest.mark.usefixtures("restore_logging")
def test_credentials_are_masked_in_messages_fields_and_tracebacks() -> None:
    token = "omni_admin_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
    key = "wk_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2"
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    log = logging.getLogger("omnichannel.test")
    log.info("token %s sent", token, extra={"client": f"key={key}", "admin_token": "plain"})
    log.info("opening postgresql+psycopg://omni:s3cr3t-pw@db:5432/omni")
    log.info("header", extra={"headers": {"authorization": f"Bearer {token}"}})
    try:
        raise RuntimeError(f"could not use {key}")
    except RuntimeError:
        log.exception("failed")
    out = stream.getvalue()
    for secret in (token, key, "s3cr3t-pw", "plain"):
        assert secret not in out
    lines = _lines(stream)
    assert lines[0]["message"] == "token omni_admin_[redacted] sent"
    assert lines[0]["client"] == "key=wk_[redacted]" and lines[0]["admin_token"] == "[redacted]"
    assert lines[1]["message"] == "opening postgresql+psycopg://omni:[redacted]@db:5432/omni"
    assert lines[3]["error"] == "RuntimeError: could not use wk_[redacted]"
    assert "Traceback" in lines[3]["traceback"]


@pytest.mark.usefixtures("restore_logging")
def test_a_job_logs_started_and_failed_with_its_fields(tmp_path: Path) -> None:
    def broken(platform: object, progress: object, options: object) -> JobOutcome:
        raise ZeroDivisionError("division by zero")

    def fine(platform: object, progress: object, options: object) -> JobOutcome:
        return JobOutcome(rows=7)

    jobs = [Job("broken", "fails", broken), Job("fine", "works", fine)]
    registry = JobRegistry({job.name: job for job in jobs})
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    with open_opstore(f"sqlite:///{tmp_path / 'opstore.sqlite'}") as store:
        runner = JobRunner(registry, JobHistory(store), platform=None)
        failed = runner.run("broken")
        finished = runner.run("fine")
    lines = [line for line in _lines(stream) if line["logger"] == "omnichannel.jobs.runner"]
    by_message = {(line["message"], line["job"]): line for line in lines}
    started = by_message[("job started", "broken")]
    assert started["run_id"] == failed.id and started["trigger"] == "manual"
    failure = by_message[("job failed", "broken")]
    assert failure["level"] == "ERROR" and failure["run_id"] == failed.id
    assert failure["error"] == "ZeroDivisionError: division by zero"
    assert failure["seconds"] >= 0 and "ZeroDivisionError" in failure["traceback"]
    done = by_message[("job finished", "fine")]
    assert done["rows"] == 7 and done["run_id"] == finished.id and done["seconds"] >= 0


def test_omni_serve_logs_json_lines_with_fields_and_never_a_secret(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = make_source(home, "web")
    admin = make_admin_token(home)
    # DEBUG: the most a server ever logs, including a line per request.
    with running_server(home, env={"OMNI_LOG_LEVEL": "DEBUG"}, timeout=120) as server:
        runtime = read_runtime(home)
        assert runtime is not None
        call = {"type": "track", "event": "Signed Up", "userId": "u-1"}
        httpx.post(f"{server.url}/v1/track", json=call, auth=(key, "")).raise_for_status()
        httpx.post(f"{server.url}/v1/track", json={**call, "writeKey": key}).raise_for_status()
        assert httpx.post(f"{server.url}/v1/track", json=call, auth=(key + "x", "")).is_error
        auth = bearer(admin)
        assert httpx.get(f"{server.url}/api/jobs", headers=auth).status_code == 200
        refused = httpx.post(f"{server.url}/api/jobs/ingest/runs", headers=auth, json={})
        assert refused.status_code == 202
        wait_until_loaded(server.url, 2)
        httpx.get(f"{server.url}/api/jobs", headers=bearer(runtime.token))
    output = server.output()
    for secret in (key, admin, runtime.token):
        assert secret not in output
    lines = [json.loads(line) for line in output.splitlines()]  # every line is one object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert not any(line["logger"] == "uvicorn.error" for line in lines)  # it says "uvicorn"
    started = [line for line in lines if line["message"] == "omni serve started"]
    assert [line["url"] for line in started] == [server.url]
    job = next(line for line in lines if line["message"] == "job refused")
    assert job["job"] == "ingest" and job["run_id"] == refused.json()["id"]
    assert "path, kind and source" in job["error"]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    tracks = [(line["method"], line["status"]) for line in access if line["path"] == "/v1/track"]
    assert tracks == [("POST", 200), ("POST", 200), ("POST", 401)]


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.usefixtures("restore_logging")
def test_a_consumer_logs_its_failure_recovery_and_catching_up(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    access = WarehouseAccess.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    store = open_opstore(f"sqlite:///{tmp_path / 'opstore.sqlite'}")
    with access.writer() as wh:
        wh.append("events", _events(4))
    calls: list[int] = []

    def flaky(batch: pa.Table) -> None:
        calls.append(batch.num_rows)
        if len(calls) == 1:
            raise RuntimeError("segment store unavailable")

    runner = ConsumerRunner(
        access,
        Checkpoints(store),
        [FunctionConsumer("segments", flaky, "beginning")],
        batch_size=2,
        interval=0.05,
        max_backoff=0.1,
    )
    runner.start()
    try:
        _wait(lambda: "consumer caught up" in stream.getvalue(), "never caught up")
    finally:
        runner.stop()
        store.close()
        access.close()
    lines = [line for line in _lines(stream) if line.get("consumer") == "segments"]
    messages = [line["message"] for line in lines]
    assert messages == [
        "consumer started",
        "consumer failed; the same events come again",
        "consumer recovered",
        "consumer caught up",
    ]
    failed, recovered, caught_up = lines[1], lines[2], lines[3]
    assert failed["level"] == "ERROR" and failed["failures"] == 1 and failed["position"] == 0
    assert failed["error"] == "RuntimeError: segment store unavailable"
    assert failed["retry_seconds"] == 0.1
    assert recovered["position"] == 2 and "lag" not in recovered  # two events still to read
    assert caught_up["position"] == 4 and caught_up["lag"] == 0


@pytest.mark.usefixtures("restore_logging")
def test_the_loader_logs_its_failures_and_recovery_without_the_password(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    access = WarehouseAccess.open(f"duckdb:///{tmp_path / 'omni.duckdb'}")
    failures = [2]

    @contextmanager
    def lease() -> Iterator[Warehouse]:
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("cannot reach postgres://omni:s3cr3t@db:5432/omni")
        with access.writer() as wh:
            yield wh

    event_log = EventLog.open(tmp_path / "log")
    loader = Loader(event_log, lease, stream=None, interval=0.05)
    loader.start()
    try:
        call = {"type": "track", "userId": "u", "event": "E", "messageId": "m-1"}
        parsed = parse_calls(
            {"batch": [call]}, source="web", received_at=NOW, limits=Limits(), path_type=None
        )
        event_log.append(
            encode_record(source="web", origin="test", events=parsed.rows, dead_letters=[])
        )
        _wait(lambda: "loader recovered" in stream.getvalue(), "the loader never recovered")
    finally:
        loader.stop()
        event_log.close()
        access.close()
    assert "s3cr3t" not in stream.getvalue()
    lines = [line for line in _lines(stream) if line["logger"] == "omnichannel.ingest.loader"]
    assert [line["message"] for line in lines] == [
        "loader could not store events; retrying",
        "loader could not store events; retrying",
        "loader recovered",
    ]
    first = lines[0]
    assert first["level"] == "ERROR" and first["pending_bytes"] > 0
    assert first["error"] == "RuntimeError: cannot reach postgres://omni:[redacted]@db:5432/omni"
    assert [line["retry_seconds"] for line in lines[:2]] == [0.1, 0.2]
    assert lines[2]["pending_bytes"] == 0


@pytest.mark.usefixtures("restore_logging")
def test_a_readiness_check_that_starts_or_stops_failing_is_logged_once(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    # A segment larger than any disk: the event log check fails.
    settings = Settings(home=tmp_path / "home", log_segment_bytes=2**60)
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 503
        assert client.get("/readyz").status_code == 503
        app.state.services.ingest.log.segment_bytes = 1024 * 1024  # room again
        assert client.get("/readyz").status_code == 200
        assert client.get("/readyz").status_code == 200
    lines = [line for line in _lines(stream) if line.get("check") == "log"]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("WARNING", "readiness check failing"),
        ("INFO", "readiness check passing again"),
    ]
    assert "less than one segment" in lines[0]["error"]
