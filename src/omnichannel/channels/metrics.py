"""Channel health in ``/metrics``, read from the workers and the outbox when scraped.

Families (labelled by channel only, so their number stays bounded):

- ``omni_channel_queue_depth{channel,status}``: messages waiting, by queued / held / sending;
- ``omni_channel_breaker_state{channel,state}``: 1 for the breaker's current state
  (closed, open, half_open), 0 for the others;
- ``omni_channel_error_rate{channel}``: failed share of provider calls in the last 5 minutes;
- ``omni_channel_messages_total{channel,outcome}``: sent, retried, failed, dropped by this
  process's worker since it started;
- ``omni_channel_open_breakers{channel}``: endpoints whose own breaker is open (webhooks);
- ``omni_channel_worker_up{channel}``: 1 while the channel's worker runs in this process.

A collector rather than gauges set by the workers: the queue depth lives in the
operational store (every process's messages), and reading it at scrape time costs one
grouped query every scrape instead of one per message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from omnichannel.metrics import Metrics
    from omnichannel.platform import Platform

log = logging.getLogger(__name__)

BREAKER_STATES = ("closed", "open", "half_open")
OUTCOMES = ("sent", "retried", "failed", "dropped")


class ChannelCollector(Collector):
    """Yields the channel families from ``platform.channels.status()`` at each scrape."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def describe(self) -> list[Metric]:
        return []  # no scrape at registration (the stores may not be open yet)

    def collect(self) -> Iterator[Metric]:
        try:
            rows = self._platform.channels.status()
        except Exception as exc:
            # A scrape that fails shows nothing at all; skip our families instead.
            log.warning("channel metrics could not be read", extra={"error": str(exc)})
            return
        yield from families(rows)


def families(rows: list[dict[str, Any]]) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "omni_channel_queue_depth",
        "Messages waiting on each channel, by status (queued, held, sending).",
        labels=["channel", "status"],
    )
    breaker = GaugeMetricFamily(
        "omni_channel_breaker_state",
        "1 for the channel's circuit-breaker state (closed, open, half_open), 0 for others.",
        labels=["channel", "state"],
    )
    errors = GaugeMetricFamily(
        "omni_channel_error_rate",
        "Failed share of provider calls in the last five minutes, per channel.",
        labels=["channel"],
    )
    messages = CounterMetricFamily(
        "omni_channel_messages",
        "Messages this process's channel worker settled, by outcome (sent, retried, failed, "
        "dropped at dispatch).",
        labels=["channel", "outcome"],
    )
    isolated = GaugeMetricFamily(
        "omni_channel_open_breakers",
        "Addresses (webhook endpoints) whose own circuit breaker is open or half open.",
        labels=["channel"],
    )
    up = GaugeMetricFamily(
        "omni_channel_worker_up",
        "1 while the channel's worker runs in this process.",
        labels=["channel"],
    )
    for row in rows:
        name = row["channel"]
        for status in ("queued", "held", "sending"):
            depth.add_metric([name, status], row[status])
        up.add_metric([name], 1.0 if row["worker"] == "running" else 0.0)
        isolated.add_metric([name], float(len(row.get("open_breakers") or [])))
        if row["breaker"] is not None:
            for state in BREAKER_STATES:
                breaker.add_metric([name, state], 1.0 if row["breaker"] == state else 0.0)
        if row["error_rate"] is not None:
            errors.add_metric([name], row["error_rate"])
        for outcome in OUTCOMES:
            if row[outcome] is not None:
                messages.add_metric([name, outcome], row[outcome])
    yield from (depth, breaker, errors, messages, isolated, up)


def run_channels(platform: Platform, metrics: Metrics | None = None) -> list[str]:
    """What ``omni serve`` and ``omni worker`` call: the channel collector in ``metrics``,
    and a worker for each enabled channel. A bad channels.yaml is logged, not raised:
    the server's other work (the collector above all) must not stop for it."""
    if metrics is not None:
        metrics.registry.register(ChannelCollector(platform))
    try:
        started = platform.channels.start()
    except Exception as exc:
        log.error("channels not started", extra={"error": str(exc)})
        return []
    if started:
        log.info("channel workers started", extra={"channels": started})
    return started
