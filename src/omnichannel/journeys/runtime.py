"""``JourneyRuntime``: runs journeys' due steps, now (``run_due``) or as they come due (a thread).

Each round claims a batch of due enrolments with a lease (``engine.claim``), decides
their steps together (``steps.decide``: one ``send_many`` for the batch's sends...), and
records every executed step and advance in one transaction (``engine.record``). Rounds
follow each other while anything is due; then the thread sleeps until the earliest
``due_at`` (or a lease's expiry), or until ``wake()`` (entries call it after enrolling),
at most ``idle_seconds``, so enrolments made by another process are seen too. It never
polls in a loop: an idle runtime makes one indexed query per ``idle_seconds``.

``omni serve`` and ``omni worker`` start it (``run_journeys``); tests and
``omni journeys run-due`` call ``run_due(now=...)`` with a clock of their own. ``clock``
is what "now" is for the engine and for the journey trigger (``JourneyTrigger.of`` reads
it): the real clock, or a virtual one (the demo steps both through its day with it).

Example::

    runtime = JourneyRuntime(platform)
    runtime.run_due()        # steps executed
    runtime.start()          # ... runtime.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from omnichannel.journeys import engine
from omnichannel.journeys.steps import PartialBatch, decide
from omnichannel.opstore.models import utcnow

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from omnichannel.metrics import Metrics
    from omnichannel.platform import Platform

log = logging.getLogger(__name__)

# A step group that failed (the warehouse away) is tried again after this long.
FAILED_STEP_RETRY = timedelta(seconds=30)
# Seconds a batch of steps took, claim to commit.
BATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RETRY_MAX_SECONDS = 30.0
# Steps run one after another for an enrolment within one batch, at most.
MAX_CHAIN = 8


class RuntimeStats:
    """What this process's runtime did: steps by kind and outcome, batch durations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.steps: Counter[tuple[str, str]] = Counter()
        self.buckets = [0] * (len(BATCH_BUCKETS) + 1)
        self.batch_seconds_sum = 0.0
        self.batches = 0

    def count(self, decisions: list[engine.Decision], seconds: float) -> None:
        with self._lock:
            for d in decisions:
                if d.outcome is not None:
                    self.steps[(d.kind, d.outcome)] += 1
            index = next((i for i, b in enumerate(BATCH_BUCKETS) if seconds <= b), -1)
            self.buckets[index] += 1
            self.batch_seconds_sum += seconds
            self.batches += 1


class JourneyRuntime:
    """Claims, runs and records journeys' due steps (see the module docstring)."""

    def __init__(
        self,
        platform: Platform,
        *,
        lease: timedelta = engine.DEFAULT_LEASE,
        batch_size: int = engine.DEFAULT_BATCH,
        idle_seconds: float = 5.0,
        holder: str | None = None,
    ) -> None:
        self._platform = platform
        # "Now" for the engine and the trigger (entered_at, matched_at): one clock.
        self.clock: Callable[[], datetime] = utcnow
        self.lease = lease
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.holder = holder or engine.worker_name()
        self.stats = RuntimeStats()
        self.error: str | None = None
        self._definitions = engine.Definitions()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- one round, and as many as are due -------------------------------------------

    def run_due(self, now: datetime | None = None, limit: int | None = None) -> int:
        """Run every step due at ``now`` (default: the clock, read each round), batch by
        batch of ``limit`` (default ``batch_size``); returns the steps executed."""
        executed = 0
        while not self._stopping.is_set():
            done, claimed = self.run_batch(now, limit)
            executed += done
            if claimed == 0:
                break
        return executed

    def run_batch(self, now: datetime | None = None, limit: int | None = None) -> tuple[int, int]:
        """One round: (steps executed, enrolments claimed)."""
        opstore = self._platform.opstore
        at = now or self.clock()
        started = time.perf_counter()
        with opstore.session() as session:
            claimed = engine.claim(
                session,
                holder=self.holder,
                limit=limit or self.batch_size,
                lease=self.lease,
                now=at,
                definitions=self._definitions,
            )
        if not claimed:
            return 0, 0
        decisions, failed = self._decide(claimed, at)
        finish = now or self.clock()
        with opstore.session() as session:
            if time.perf_counter() - started > self.lease.total_seconds() / 2:
                # Still ours? A lease that ran out may have been taken over: record()
                # writes only rows whose lease we hold, so nothing is recorded twice.
                ids = [d.claimed.id for d in decisions]
                engine.renew(session, holder=self.holder, ids=ids, until=finish + self.lease)
            applied = engine.record(session, holder=self.holder, decisions=decisions, now=finish)
            if failed:
                engine.release(
                    session, holder=self.holder, ids=failed, due_at=finish + FAILED_STEP_RETRY
                )
        self.stats.count(applied, time.perf_counter() - started)
        return sum(1 for d in applied if d.outcome is not None), len(claimed)

    def _decide(
        self, claimed: list[engine.Claimed], at: datetime
    ) -> tuple[list[engine.Decision], list[int]]:
        """Decide the claimed steps, then the steps that follow at once (``engine.follow``:
        a split's arm, the send after it...), up to ``MAX_CHAIN`` deep: one claim and one
        record for a run of steps that are due together."""
        decisions: list[engine.Decision] = []
        failed: list[int] = []
        pending = claimed
        for _ in range(MAX_CHAIN):
            try:
                made = decide(self._platform, pending, at)
            except PartialBatch as partial:
                made, failed = partial.decisions, [*failed, *partial.failed]
                self.error = str(partial)
            decisions.extend(made)
            pending = [n for n in (engine.follow(d, at) for d in made) if n is not None]
            if not pending:
                break
        return decisions, failed

    # --- the thread ------------------------------------------------------------------

    def start(self) -> None:
        """Run due steps on a thread of their own until ``stop()``."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="journeys", daemon=True)
            self._thread.start()
        log.info("journey runtime started", extra={"runner": self.holder})

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Something may be due now (a new enrolment, a matched wait): look now."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand and stop; its leases are released by its record."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        retry = 1.0
        while not self._stopping.is_set():
            # Cleared before looking, so a wake during the round is not lost.
            self._wake.clear()
            try:
                self.run_due()
                wait = self._sleep_seconds()
                if self.error is not None:
                    log.info("journey runtime recovered", extra={"runner": self.holder})
                    self.error = None
                retry = 1.0
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "journey steps could not run; retrying",
                    extra={"runner": self.holder, "retry_seconds": retry, "error": self.error},
                )
                wait, retry = retry, min(retry * 2, RETRY_MAX_SECONDS)
            self._wake.wait(wait)

    def _sleep_seconds(self) -> float:
        with self._platform.opstore.session() as session:
            due = engine.next_due_at(session)
        if due is None:
            return self.idle_seconds
        return max(0.0, min((due - self.clock()).total_seconds(), self.idle_seconds))

    def backlog(self) -> int:
        with self._platform.opstore.session() as session:
            return engine.backlog(session, self.clock())


# --- metrics and start-up --------------------------------------------------------------


class JourneyCollector(Collector):
    """``omni_journey_*`` families from the runtime, read at each scrape."""

    def __init__(self, runtime: JourneyRuntime) -> None:
        self._runtime = runtime

    def describe(self) -> list[Metric]:
        return []  # no scrape at registration (the stores may not be open yet)

    def collect(self) -> Iterator[Metric]:
        runtime = self._runtime
        stats = runtime.stats
        steps = CounterMetricFamily(
            "omni_journey_steps",
            "Journey steps this process executed, by step kind and outcome (route taken, or "
            "the send's status).",
            labels=["kind", "outcome"],
        )
        with stats._lock:
            for (kind, outcome), n in sorted(stats.steps.items()):
                steps.add_metric([kind, outcome], n)
            cumulative, buckets = 0, []
            for bound, n in zip([*BATCH_BUCKETS, float("inf")], stats.buckets, strict=True):
                cumulative += n
                buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
            total = stats.batch_seconds_sum
        seconds = HistogramMetricFamily(
            "omni_journey_batch_seconds",
            "Seconds a batch of journey steps took, from its claim to its commit.",
            buckets=buckets,
            sum_value=total,
        )
        up = GaugeMetricFamily(
            "omni_journey_runtime_up", "1 while the journey runtime runs in this process."
        )
        up.add_metric([], 1.0 if runtime.running else 0.0)
        yield from (steps, seconds, up)
        try:
            due = runtime.backlog()
        except Exception as exc:  # a scrape that fails shows nothing at all: skip this one
            log.warning("journey backlog could not be read", extra={"error": str(exc)})
            return
        backlog = GaugeMetricFamily(
            "omni_journey_due_backlog",
            "Enrolments of live journeys whose step is due now (all processes).",
        )
        backlog.add_metric([], float(due))
        yield backlog


def run_journeys(platform: Platform, metrics: Metrics | None = None) -> JourneyRuntime | None:
    """What ``omni serve`` and ``omni worker`` call: the runtime's metrics in ``metrics``
    and its thread started. A failure is logged, not raised: the server's other work
    must not stop for it."""
    try:
        runtime = runtime_of(platform)
        if metrics is not None:
            metrics.registry.register(JourneyCollector(runtime))
        runtime.start()
    except Exception as exc:
        log.error("journey runtime not started", extra={"error": str(exc)})
        return None
    return runtime


def runtime_of(platform: Platform) -> JourneyRuntime:
    """The platform's one runtime (``platform.journeys.runtime``)."""
    return platform.journeys.runtime
