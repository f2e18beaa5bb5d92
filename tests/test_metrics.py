"""Prometheus metrics: requests labelled by route template, gauges refreshed on scrape."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from omnichannel.metrics import Metrics, RequestMetrics


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
