"""Prometheus metrics of one running installation, served at ``/metrics``.

Each ``Metrics`` has a registry of its own (not prometheus-client's global one), so two
apps in one process (the tests, an embedded server) never collide. What is measured:

- HTTP requests by route template, method and status, with a latency histogram;
- collector calls accepted (durable, acknowledged) and refused, and refused requests by
  code, by route;
- events stored by the loader, skipped as duplicates, dead letters stored;
- loader lag (bytes acknowledged but not yet stored) and consumer lag (events stored
  but not yet read by each durable consumer), read when scraped;
- job runs by job and outcome, with a duration histogram.

``omni serve`` exposes them at its ``/metrics`` route; ``omni worker``, which has no API,
serves the same registry with prometheus-client's own HTTP server (``serve_metrics``).

With the collector in a process of its own (``OMNI_COLLECTOR_PORT``), that process counts
its requests and calls in its own registry; the main ``/metrics`` reads the child's at each
scrape (``forward``) and shows its collector and request families with the label
``process="collector"`` beside the main process's series, plus
``omni_collector_process_up``. Forwarding, not prometheus-client's multiprocess mode: that
mode backs every metric of every process with memory-mapped files (``PROMETHEUS_MULTIPROC_DIR``
set before prometheus-client is first imported) and exports every metric instantiated in
any process instead of one registry per app (above), for a child with four families.

Example::

    metrics = Metrics()
    app.add_middleware(RequestMetrics, metrics=metrics)
    metrics.events_stored.inc(25)
    body, content_type = metrics.exposition()
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.metrics_core import Metric

    from omnichannel.consumers import ConsumerRunner
    from omnichannel.jobs import RunRecord

# The collector process's families shown on the main /metrics (``Metrics.forward``).
FORWARDED = frozenset(
    {
        "omni_http_requests",
        "omni_http_request_seconds",
        "omni_collector_calls",
        "omni_collector_refused_requests",
    }
)
# Latency buckets from 1 ms to 10 s: lookups live at the low end, analytics at the top.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The metric families of one installation, on a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "omni_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "omni_http_request_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.collector_calls = Counter(
            "omni_collector_calls",
            "Segment calls the collector answered, by route and outcome: accepted (durable in "
            "the event log, acknowledged) or refused (kept as a dead letter with its reason).",
            ["route", "outcome"],
            registry=r,
        )
        self.collector_refused = Counter(
            "omni_collector_refused_requests",
            "Collector requests answered with a refusal, by route and code (invalid_events: "
            "some calls refused, the others accepted; invalid_json, too_large, unauthorized...).",
            ["route", "code"],
            registry=r,
        )
        self.events_stored = Counter(
            "omni_events_stored", "Events the loader stored in the warehouse.", registry=r
        )
        self.events_duplicate = Counter(
            "omni_events_duplicate",
            "Events the loader skipped because their messageId was stored already.",
            registry=r,
        )
        self.dead_letters_stored = Counter(
            "omni_dead_letters_stored", "Dead letters the loader stored.", registry=r
        )
        self.loader_lag_bytes = Gauge(
            "omni_loader_lag_bytes",
            "Bytes acknowledged by the collector and not yet stored by the loader.",
            registry=r,
        )
        self.consumer_lag_events = Gauge(
            "omni_consumer_lag_events",
            "Events stored but not yet read by each durable consumer.",
            ["consumer"],
            registry=r,
        )
        self.job_runs = Counter(
            "omni_job_runs",
            "Finished job runs, by job and outcome.",
            ["job", "status"],
            registry=r,
        )
        self.job_seconds = Histogram(
            "omni_job_seconds",
            "Duration of job runs, by job.",
            ["job"],
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
            registry=r,
        )
        self._before_scrape: list[Callable[[], None]] = []
        self._forwarded: list[Callable[[], str]] = []
        self._process_up: Gauge | None = None
        # Children by label values: the collector counts every request, so skip the lookup.
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, family: Counter, *labels: str) -> Any:
        key = (id(family), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*labels)
        return child

    def collector_answered(self, route: str, status: int, accepted: int, refused: int) -> None:
        """Count a collector request whose calls were parsed (``status`` as answered)."""
        if status >= 500:
            return  # not durable, so nothing was accepted: the SDK retries the same calls
        if accepted:
            self._child(self.collector_calls, route, "accepted").inc(accepted)
        if refused:
            self._child(self.collector_calls, route, "refused").inc(refused)
            self._child(self.collector_refused, route, "invalid_events").inc()

    def collector_request_refused(self, route: str, code: str) -> None:
        """Count a collector request refused as a whole (its calls were not read)."""
        self._child(self.collector_refused, route, code).inc()

    def before_scrape(self, refresh: Callable[[], None]) -> None:
        """Call ``refresh`` before each scrape (gauges read from live state, e.g. lag)."""
        self._before_scrape.append(refresh)

    def count_run(self, run: RunRecord) -> None:
        """Count a finished job run (``JobRunner.on_finish`` calls this)."""
        self.job_runs.labels(run.job, run.status).inc()
        if run.seconds is not None:
            self.job_seconds.labels(run.job).observe(run.seconds)

    def watch_consumers(self, runner: ConsumerRunner) -> None:
        """Read each consumer's lag at every scrape."""

        def refresh() -> None:
            for consumer in runner.consumers:
                self.consumer_lag_events.labels(consumer.name).set(runner.lag(consumer.name))

        self.before_scrape(refresh)

    def _refresh(self) -> None:
        for refresh in self._before_scrape:
            # A gauge that cannot be read keeps its last value rather than fail the scrape.
            with contextlib.suppress(Exception):
                refresh()

    def forward(self, fetch: Callable[[], str]) -> None:
        """Add another process's ``FORWARDED`` families to every exposition: ``fetch``
        returns its ``/metrics`` text (raises when it cannot be read)."""
        if self._process_up is None:
            self._process_up = Gauge(
                "omni_collector_process_up",
                "1 when the collector's own process (OMNI_COLLECTOR_PORT) answered this "
                "scrape's read of its metrics, else 0 (its series are then missing).",
                registry=self.registry,
            )
        self._forwarded.append(fetch)

    def _forwarded_families(self) -> list[Metric]:
        from prometheus_client.parser import text_string_to_metric_families

        families: list[Metric] = []
        up = 1
        for fetch in self._forwarded:
            try:
                text = fetch()
            except Exception:
                up = 0
                continue
            for family in text_string_to_metric_families(text):
                if family.name in FORWARDED:
                    family.samples = [
                        sample._replace(labels={**sample.labels, "process": "collector"})
                        for sample in family.samples
                    ]
                    families.append(family)
        if self._process_up is not None:
            self._process_up.set(up)
        return families

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format of every metric, and its content type."""
        self._refresh()
        if not self._forwarded:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        return generate_latest(_Merged(self.registry, self._forwarded_families())), (
            CONTENT_TYPE_LATEST
        )

    def collect(self) -> Iterable[Metric]:
        """Every metric, gauges refreshed first (what prometheus-client's server reads)."""
        self._refresh()
        return self.registry.collect()


class _Merged:
    """A registry's families with another process's samples added to those of the same
    name (one family per name: the text format allows no second ``# TYPE`` line)."""

    def __init__(self, registry: CollectorRegistry, others: list[Metric]) -> None:
        self.registry = registry
        self.others = others

    def collect(self) -> Iterable[Metric]:
        extra: dict[str, list[Any]] = {}
        for family in self.others:
            extra.setdefault(family.name, []).extend(family.samples)
        for family in self.registry.collect():
            samples = extra.pop(family.name, None)
            if samples:
                family.samples = [*family.samples, *samples]
            yield family
        for family in self.others:
            if family.name in extra:
                extra.pop(family.name)
                yield family


def serve_metrics(metrics: Metrics, host: str, port: int) -> WSGIServer:
    """Serve ``metrics`` in the Prometheus text format at ``http://host:port/metrics``
    on a daemon thread (prometheus-client's server; any path answers the same); returns
    the server, to ``shutdown()``. An address in use is a ``ConfigError`` naming it."""
    from omnichannel.errors import ConfigError

    try:
        server, _thread = start_http_server(port, addr=host, registry=metrics)
    except OSError as exc:
        raise ConfigError(
            f"worker_metrics_port={port} cannot be served on {host}: {exc.strerror or exc}; "
            "set OMNI_WORKER_METRICS_PORT to a free port, or 0 for no metrics server"
        ) from exc
    return server


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request by its route template.

    The template (``/v1/profiles/{identifier}``), not the path, labels a request, so
    the number of series stays bounded whatever identifiers clients send.
    """

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = {"code": 500}

        async def send_and_note(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(template, method, str(status["code"])).inc()
            self.metrics.latency.labels(template, method).observe(time.perf_counter() - began)
