"""What the server shares between requests: the installation object and the server's parts.

The installation (``Platform``) owns the configuration, both stores, the lookup index,
the jobs and the consumers; the server adds what only a server has: the collector's
ingest runtime, the admin-token check, the metrics, and its runtime file.

Each request thread reads the warehouse on a connection of its own
(``Platform.warehouse.reader()``, see ``warehouse/access.py``): a long query never holds
up a lookup, and the loader's appends go through the one writer path beside them.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from omnichannel.api.auth import AdminTokens
from omnichannel.config import Settings
from omnichannel.ingest.loader import DrainResult
from omnichannel.ingest.runtime import IngestRuntime
from omnichannel.jobs import RunRecord
from omnichannel.metrics import Metrics
from omnichannel.opstore import OpStore
from omnichannel.platform import Platform
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.access import BACKGROUND_NICE

log = logging.getLogger(__name__)

# Seconds a thread may hold the GIL while another waits for it, in ``omni serve``
# (Python's default is 0.005); see Services.start_background.
SWITCH_INTERVAL = 0.001


class Services:
    """The server's view of one installation."""

    def __init__(self, settings: Settings, *, platform: Platform | None = None) -> None:
        self.settings = settings
        # A server's analytic work runs below its requests (warehouse/access.py).
        self.platform = platform or Platform(settings, background_nice=BACKGROUND_NICE)
        self.metrics = Metrics()
        from omnichannel.channels.metrics import ChannelCollector

        self.metrics.registry.register(ChannelCollector(self.platform))  # read at each scrape
        self.started = time.monotonic()
        # The collector's log and loader; started with the server (see start).
        self.ingest: IngestRuntime | None = None
        self._admin_tokens: AdminTokens | None = None
        self._lock = threading.Lock()
        self._background = False
        self._runtime_token: str | None = None

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        """This thread's connection to the warehouse (opened on first use)."""
        with self.platform.warehouse.reader() as wh:
            yield wh

    def opstore(self) -> OpStore:
        """The operational store, opened (and migrated) on first use."""
        return self.platform.opstore

    def admin_tokens(self) -> AdminTokens:
        """Checks ``Authorization: Bearer`` tokens of management and profile routes."""
        store = self.opstore()
        with self._lock:
            if self._admin_tokens is None or self._admin_tokens.store is not store:
                self._admin_tokens = AdminTokens(store, self.settings.write_key_cache_seconds)
            return self._admin_tokens

    def admin_token_known(self, token: str) -> bool:
        """True when ``token`` was checked valid within the trust window (no I/O, so the
        event loop may ask; a False means: check it with ``admin_tokens().valid``)."""
        tokens = self._admin_tokens
        return tokens is not None and tokens.peek(token)

    def start_ingest(self) -> None:
        """Open the event log and start the loader on the warehouse's writer path."""
        if self.ingest is None:
            self.ingest = IngestRuntime.start(
                # Opened at the first batch, not now: the server starts (and answers
                # /healthz) while the warehouse is unreachable.
                self.settings,
                lease=lambda: self.platform.warehouse.writer(),
                opstore=self.opstore(),
                nice=self.platform.background_nice,
            )
            # The stream only wakes the consumers; they read the warehouse by load_seq.
            self.ingest.stream.subscribe(lambda _batch: self.platform.wake_consumers())
            self.metrics.before_scrape(self._refresh_gauges)
            self.ingest.loader.on_batch.append(self._count_batch)
            if self.ingest.collector is not None:
                # Its collector and request counters, in this /metrics (metrics.py).
                self.metrics.forward(self.ingest.collector.metrics_text)
            self.platform.jobs.on_finish.append(self._count_run)

    def start_background(self) -> None:
        """Jobs on their schedules and the durable consumers (``omni serve`` runs these).

        The process is a server from now on, so it also hands the GIL round more often
        (``SWITCH_INTERVAL``): a request gives the GIL up at each DuckDB call and each
        hand-off between the event loop and its worker thread, and each time waits up to
        a switch interval for a thread doing Python work (the loader decoding a batch,
        the collector parsing one, a job) to give it back. At 1 ms instead of Python's
        5 ms such a request takes about half as long beside one busy thread
        (``benchmarks/gil_switch.py``, figures in docs/benchmarks.md).
        """
        if not self._background:
            sys.setswitchinterval(SWITCH_INTERVAL)
            self.platform.jobs.start()
            self.platform.consumers.start()
            from omnichannel.channels.metrics import run_channels

            run_channels(self.platform)  # a worker per enabled channel
            from omnichannel.journeys.runtime import run_journeys

            run_journeys(self.platform, self.metrics)  # journeys' due steps, as they come due
            self._background = True

    def _count_batch(self, step: DrainResult) -> None:
        self.metrics.events_stored.inc(step.events_stored)
        self.metrics.events_duplicate.inc(step.duplicates)
        self.metrics.dead_letters_stored.inc(step.dead_letters)

    def _count_run(self, run: RunRecord) -> None:
        self.metrics.job_runs.labels(run.job, run.status).inc()
        if run.seconds is not None:
            self.metrics.job_seconds.labels(run.job).observe(run.seconds)

    def _refresh_gauges(self) -> None:
        if self.ingest is not None:
            self.metrics.loader_lag_bytes.set(self.ingest.pending_bytes())
        if self._background:
            for consumer in self.platform.consumers.consumers:
                self.metrics.consumer_lag_events.labels(consumer.name).set(
                    self.platform.consumers.lag(consumer.name)
                )

    def write_runtime_file(self) -> None:
        """Tell CLI commands on this home where the server is, with a token made for it."""
        from omnichannel import __version__
        from omnichannel.opstore.admin_tokens import create_admin_token
        from omnichannel.server_runtime import write_runtime

        with self.opstore().session() as session:
            token = create_admin_token(session, actor=f"omni serve (local, pid {os.getpid()})")
        url = f"http://{_client_host(self.settings.host)}:{self.settings.port}"
        self._runtime_token = token
        write_runtime(self.settings.home, url=url, token=token, version=__version__)

    def _remove_runtime_file(self) -> None:
        token = self._runtime_token
        if token is None:
            return
        from omnichannel.opstore.admin_tokens import revoke_admin_token
        from omnichannel.server_runtime import remove_runtime

        remove_runtime(self.settings.home)
        try:
            with self.opstore().session() as session:
                revoke_admin_token(session, token, actor=f"omni serve (pid {os.getpid()})")
        except Exception:
            log.exception("could not revoke the server's local admin token")
        self._runtime_token = None

    def close(self) -> None:
        self._remove_runtime_file()
        if self.ingest is not None:
            self.ingest.stop()  # final drain needs the warehouse, so before closing it
            self.ingest = None
        self.platform.close()


def _client_host(host: str) -> str:
    """Where a local client reaches a server listening on ``host`` (0.0.0.0 means any)."""
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
