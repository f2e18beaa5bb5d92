"""Prometheus metrics and readiness, on a toy app and on a real running server."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyarrow as pa
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from omnichannel.api import create_app
from omnichannel.config import Settings
from omnichannel.consumers import Checkpoints, ConsumerRunner, FunctionConsumer
from omnichannel.metrics import Metrics, RequestMetrics
from tests.support.collector import (
    bearer,
    make_admin_token,
    make_source,
    running_server,
    wait_until_loaded,
)


def _app(metrics: Metrics) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestMetrics, metrics=metrics)

    @app.get("/v1/profiles/{identifier}")
    def profile(identifier: str) -> dict[str, str]:
        if identifier == "missing":
            raise HTTPException(404, "no such profile")
        return {"identifier": identifier}

    @app.get("/metrics")
    def scrape() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return app


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_requests_are_counted_by_route_template_and_status_not_by_path() -> None:
    metrics = Metrics()
    client = TestClient(_app(metrics))
    for identifier in ("email:a@example.com", "email:b@example.com", "missing"):
        client.get(f"/v1/profiles/{identifier}")
    client.get("/nowhere")
    samples = _samples(client.get("/metrics").text)
    route = ("route", "/v1/profiles/{identifier}")
    ok = ("omni_http_requests_total", (("method", "GET"), route, ("status", "200")))
    missing = ("omni_http_requests_total", (("method", "GET"), route, ("status", "404")))
    assert samples[ok] == 2
    assert samples[missing] == 1
    unmatched = (
        "omni_http_requests_total",
        (("method", "GET"), ("route", "(unmatched)"), ("status", "404")),
    )
    assert samples[unmatched] == 1
    count = ("omni_http_request_seconds_count", (("method", "GET"), route))
    assert samples[count] == 3
    assert not any("a@example.com" in str(key) for key in samples)


def test_gauges_are_read_from_live_state_when_scraped() -> None:
    metrics = Metrics()
    pending = {"bytes": 1024}
    metrics.before_scrape(lambda: metrics.loader_lag_bytes.set(pending["bytes"]))
    metrics.before_scrape(lambda: 1 / 0)  # a broken reader never fails the scrape
    first = _samples(metrics.exposition()[0].decode())
    pending["bytes"] = 0
    second = _samples(metrics.exposition()[0].decode())
    assert first[("omni_loader_lag_bytes", ())] == 1024
    assert second[("omni_loader_lag_bytes", ())] == 0


# --- a real running server -------------------------------------------------------------


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _finished(url: str, run_id: int, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        run: dict[str, Any] = httpx.get(f"{url}/api/jobs/runs/{run_id}", headers=headers).json()
        if run["status"] != "running":
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.1)


def test_a_running_server_counts_collector_calls_loader_stores_and_failed_jobs(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    key, admin = make_source(home, "web"), bearer(make_admin_token(home))
    with running_server(home, timeout=120) as server:
        url = server.url
        ok = {"type": "track", "userId": "u-1", "event": "Signed Up"}
        assert httpx.post(f"{url}/v1/track", json=ok, auth=(key, "")).status_code == 200
        batch = [{**ok, "userId": "u-2"}, {**ok, "userId": "u-3"}, {"type": "track", "event": "?"}]
        partly = httpx.post(f"{url}/v1/batch", json={"batch": batch}, auth=(key, ""))
        assert (partly.status_code, partly.json()["accepted"]) == (400, 2)
        not_json = httpx.post(f"{url}/v1/track", content=b"{oops", auth=(key, ""))
        assert not_json.json()["code"] == "invalid_json"
        assert httpx.post(f"{url}/v1/track", json=ok).status_code == 401
        run = httpx.post(f"{url}/api/jobs/ingest/runs", json={}, headers=admin).json()
        assert _finished(url, run["id"], admin)["status"] == "failed"  # no path given
        wait_until_loaded(url, 3)
        samples = _scrape(url)
    calls = "omni_collector_calls_total"
    assert _value(samples, calls, route="/v1/track", outcome="accepted") == 1
    assert _value(samples, calls, route="/v1/batch", outcome="accepted") == 2
    assert _value(samples, calls, route="/v1/batch", outcome="refused") == 1
    refused = "omni_collector_refused_requests_total"
    assert _value(samples, refused, route="/v1/batch", code="invalid_events") == 1
    assert _value(samples, refused, route="/v1/track", code="invalid_json") == 1
    assert _value(samples, refused, route="/v1/track", code="unauthorized") == 1
    # What was accepted is what the loader stored; each refusal is a dead letter.
    assert _value(samples, "omni_events_stored_total") == 3
    assert _value(samples, "omni_dead_letters_stored_total") == 3
    assert _value(samples, "omni_loader_lag_bytes") == 0
    http = "omni_http_requests_total"
    assert _value(samples, http, route="/v1/batch", method="POST", status="400") == 1
    assert _value(samples, http, route="/v1/track", method="POST", status="401") == 1
    assert _value(samples, "omni_job_runs_total", job="ingest", status="failed") == 1
    assert _value(samples, "omni_job_seconds_count", job="ingest") == 1
    # Write keys and sources never label a series.
    assert not any(key in str(k) or "web" in str(k) for k in samples)


def test_consumer_lag_and_failures_show_on_metrics_and_readyz(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", loader_interval=0.05)
    key = make_source(settings.home, "web")
    broken = threading.Event()
    broken.set()
    seen: list[int] = []

    def handle(batch: pa.Table) -> None:
        if broken.is_set():
            raise RuntimeError("the journey store is down")
        seen.extend(batch.column("load_seq").to_pylist())

    app = create_app(settings, serve=True)
    platform = app.state.services.platform
    platform.consumers = ConsumerRunner(
        platform.warehouse,
        Checkpoints(platform.opstore),
        [FunctionConsumer("journeys", handle, "beginning")],
        interval=0.05,
        max_backoff=0.2,
    )
    with TestClient(app) as client:
        batch = [{"type": "track", "userId": f"u-{i}", "event": "Viewed"} for i in range(4)]
        assert client.post("/v1/batch", json={"batch": batch}, auth=(key, "")).status_code == 200
        lag = ("omni_consumer_lag_events", (("consumer", "journeys"),))
        deadline = time.monotonic() + 30
        while _samples(client.get("/metrics").text).get(lag) != 4:
            assert time.monotonic() < deadline, "the lag never showed the 4 stored events"
            time.sleep(0.05)
        while not platform.consumers.state["journeys"].failures:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ready = client.get("/readyz")
        broken.clear()
        while _samples(client.get("/metrics").text).get(lag) != 0:
            assert time.monotonic() < deadline, "the lag never went back to 0"
            time.sleep(0.05)
        after = client.get("/readyz").json()["checks"]["consumers"]["detail"]
    # A failing consumer is reported but does not take the server out of service.
    assert ready.status_code == 200
    consumers = ready.json()["checks"]["consumers"]["detail"]
    assert consumers["failing"] == ["journeys"]
    journeys = consumers["consumers"]["journeys"]
    assert journeys["lag"] == 4 and journeys["failures"] >= 1
    assert journeys["last_error"] == "RuntimeError: the journey store is down"
    assert after["failing"] == [] and after["consumers"]["journeys"]["lag"] == 0
    assert sorted(seen) == [1, 2, 3, 4]


def test_readyz_checks_the_event_log_disk(tmp_path: Path) -> None:
    # A segment larger than any disk: the next one cannot be sure to fit.
    settings = Settings(home=tmp_path / "home", log_segment_bytes=2**60)
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    check = ready.json()["checks"]["log"]
    assert not check["ok"] and check["detail"]["free_bytes"] > 0
    assert "bytes free on the event log's disk" in check["error"]
    assert "OMNI_LOG_SEGMENT_BYTES" in check["error"]


@pytest.mark.postgres
def test_a_lost_warehouse_fails_its_own_check_and_leaves_consumer_lag_unknown(
    tmp_path: Path, postgres_server_url: str, postgres_database: str
) -> None:
    url = postgres_database.replace("postgresql://", "postgres://", 1)
    app = create_app(Settings(home=tmp_path / "home", warehouse_url=url))
    platform = app.state.services.platform
    platform.consumers = ConsumerRunner(
        platform.warehouse,
        Checkpoints(platform.opstore),
        [FunctionConsumer("journeys", lambda batch: None, "beginning")],
    )
    with TestClient(app) as client:
        before = client.get("/readyz")
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            name = postgres_database.rsplit("/", 1)[1]
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # the warehouse is gone
        after = client.get("/readyz")
    assert before.status_code == 200
    assert before.json()["checks"]["consumers"]["detail"]["consumers"]["journeys"]["lag"] == 0
    assert after.status_code == 503
    checks = after.json()["checks"]
    failing = sorted(name for name, check in checks.items() if not check["ok"])
    assert failing == ["warehouse"]  # the one cause, named once
    assert checks["consumers"]["detail"]["consumers"]["journeys"]["lag"] is None
