"""``omni worker``: the background jobs and consumers in a process of their own.

Where the warehouse lets several processes write (PostgreSQL, ClickHouse, Spark), jobs
can run beside any number of servers, which then only serve requests. Runs of one job
never overlap across processes: each takes the job's lock in the operational store.
On the embedded DuckDB file, or a local-mode Spark warehouse with its embedded
metastore, only one process may open the warehouse, so ``omni serve`` runs them.

The worker has no API; it serves the metrics of its jobs and consumers (the families
``omni serve`` has at ``/metrics``) on ``OMNI_WORKER_METRICS_PORT`` for Prometheus.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import typer

from omnichannel.cli.context import settings_of
from omnichannel.cli.output import console
from omnichannel.errors import ConfigError

log = logging.getLogger("omnichannel.worker")


def worker(ctx: typer.Context) -> None:
    """Run the background jobs on their schedules (and the consumers) until stopped."""
    from omnichannel.platform import Platform
    from omnichannel.warehouse.backends import redact, single_process_reason

    settings = settings_of(ctx)
    url = settings.resolved_warehouse_url
    reason = single_process_reason(url)
    if reason is not None:
        raise ConfigError(
            "omni worker needs a warehouse several processes can write (PostgreSQL, "
            "ClickHouse, Spark with a shared metastore: OMNI_WAREHOUSE_URL); on "
            f"{redact(url)}, {reason}, so `omni serve` runs the jobs itself"
        )
    from omnichannel.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    from omnichannel.metrics import Metrics, serve_metrics

    metrics = Metrics()
    with Platform(settings) as platform:
        metrics_server = None
        if settings.worker_metrics_port:
            # First: a port in use stops the worker before any job has started.
            metrics_server = serve_metrics(metrics, settings.host, settings.worker_metrics_port)
        platform.jobs.on_finish.append(metrics.count_run)
        metrics.watch_consumers(platform.consumers)
        platform.jobs.start()
        platform.consumers.start()
        from omnichannel.channels.metrics import run_channels

        run_channels(platform, metrics)  # each channel's queue, beside other workers
        from omnichannel.journeys.runtime import run_journeys

        run_journeys(platform, metrics)  # journeys' due steps, beside other workers' leases
        names = ", ".join(
            f"{row['name']} ({'on demand' if row['every_seconds'] is None else 'scheduled'})"
            for row in platform.jobs.describe()
        )
        console.print(f"omni worker {platform.jobs.name}: jobs {names}", highlight=False)
        scraped = None
        if metrics_server is not None:
            scraped = f"http://{settings.host}:{metrics_server.server_port}/metrics"
            console.print(f"metrics at {scraped}", highlight=False)
        scheduled = [r["name"] for r in platform.jobs.describe() if r["every_seconds"] is not None]
        log.info(
            "omni worker started",
            extra={
                "runner": platform.jobs.name,
                "pid": os.getpid(),
                "scheduled": scheduled,
                "metrics_url": scraped,
            },
        )
        stop.wait()
        console.print("stopping: waiting for runs in progress")
        log.info("omni worker stopping", extra={"runner": platform.jobs.name})
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
