"""What the server runs for ingestion: the event log, the loader thread, key lookup, the stream.

``Services`` starts one ``IngestRuntime`` when the server starts and stops it (counts of
unauthenticated requests stored, final drain, log closed, lock released) when it stops.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from omnichannel.config import Settings
from omnichannel.ingest.bus_redis import RedisBus
from omnichannel.ingest.collector_process import CollectorProcess, ForwardingKeys, collector_log_dir
from omnichannel.ingest.loader import Loader, WarehouseLease
from omnichannel.ingest.log import EventLog, LogError, ReadableLog
from omnichannel.ingest.prepared import DIRECTORY as PREPARED_DIRECTORY
from omnichannel.ingest.prepared import PreparedTail
from omnichannel.ingest.segment import Limits
from omnichannel.ingest.sources import KeyResolver
from omnichannel.ingest.stream import InProcessStream
from omnichannel.ingest.unauthorized import UnauthorizedRequests
from omnichannel.opstore import OpStore

if TYPE_CHECKING:
    from omnichannel.ingest.loader import DrainResult
    from omnichannel.warehouse import Warehouse

log = logging.getLogger(__name__)


def limits_of(settings: Settings) -> Limits:
    return Limits(max_future=settings.event_max_future, max_age=settings.event_max_age)


@dataclass
class IngestRuntime:
    # What the collector appends to and the loader reads first: the local file log, or
    # the Redis stream when OMNI_BUS_URL is set (the local log is then drained beside it).
    log: EventLog | RedisBus
    loader: Loader
    keys: KeyResolver
    stream: InProcessStream
    limits: Limits
    # None: the settings' defaults (the demo's in-process collector builds a runtime itself).
    unauthorized_requests: UnauthorizedRequests | None = None
    # OMNI_COLLECTOR_PORT: the collector's own process, whose log the loader also drains.
    collector: CollectorProcess | None = None
    # Logs the loader drains beside ``log`` (the collector process's, or one it left).
    other_logs: tuple[ReadableLog, ...] = ()

    def pending_bytes(self) -> int:
        """Bytes acknowledged and not yet stored, in every log the loader drains."""
        return self.loader.pending_bytes()

    @property
    def unauthorized(self) -> UnauthorizedRequests:
        if self.unauthorized_requests is None:
            defaults = Settings.model_fields
            self.unauthorized_requests = UnauthorizedRequests(
                self.keys.store,
                sample_per_hour=defaults["unauthorized_sample_per_hour"].default,
                sample_bytes=defaults["unauthorized_sample_bytes"].default,
            )
        return self.unauthorized_requests

    @classmethod
    def start(
        cls, settings: Settings, *, lease: WarehouseLease, opstore: OpStore, nice: int = 0
    ) -> IngestRuntime:
        local_log = EventLog.open(settings.log_dir, segment_bytes=settings.log_segment_bytes)
        event_log: EventLog | RedisBus = local_log
        others: list[ReadableLog] = []
        if settings.bus_url is not None:
            try:
                event_log = RedisBus.from_settings(settings)
            except Exception:
                local_log.close()
                raise
            # What the local log holds from before the bus was turned on is still stored.
            others.append(local_log)
        collector: CollectorProcess | None = None
        other: ReadableLog | None = None
        directory = collector_log_dir(settings)
        if settings.collector_port is not None:
            tail = PreparedTail(directory, segment_bytes=settings.log_segment_bytes)
            collector = CollectorProcess(settings, tail)
            other = tail
        elif directory.exists():
            # A collector process ran here before: store what it acknowledged.
            try:
                other = open_past_collector_log(settings)
            except LogError as exc:  # still held by one that is exiting: the next start
                log.warning("ingest: the collector process's log is not drained now: %s", exc)
        stream = InProcessStream()
        loader = Loader(
            event_log,
            lease,
            stream=stream,
            interval=settings.loader_interval,
            dedupe_window=settings.dedupe_window,
            also=(*others, *(() if other is None else (other,))),
            nice=nice,
        )
        loader.start()
        keys = KeyResolver(opstore, settings.write_key_cache_seconds)
        if collector is not None:
            keys = ForwardingKeys(opstore, settings.write_key_cache_seconds, collector)
            collector.start()
            log.info("ingest: the collector process answers at %s", collector.url)
        log.info(
            "ingest: event log %s opened at offset %d (checkpoint %d)",
            settings.log_dir if settings.bus_url is None else f"bus {settings.bus_stream}",
            event_log.end,
            event_log.checkpoint(),
        )
        return cls(
            event_log,
            loader,
            keys,
            stream,
            limits_of(settings),
            UnauthorizedRequests(
                opstore,
                sample_per_hour=settings.unauthorized_sample_per_hour,
                sample_bytes=settings.unauthorized_sample_bytes,
            ),
            collector,
            (*others, *(() if other is None else (other,))),
        )

    def stop(self) -> None:
        try:
            self.unauthorized.flush()
        except Exception:
            log.exception("ingest: could not store the count of unauthenticated requests")
        if self.collector is not None:
            self.collector.stop()  # its last acknowledged records, then the final drain
        if isinstance(self.log, RedisBus):
            self.log.finish_own()  # the other loaders of the group take what is new
        self.loader.stop()
        if isinstance(self.log, RedisBus):
            try:
                self.log.leave()  # holding nothing now: not one more name in the group
            except Exception:
                log.exception("ingest: could not leave the event bus's consumer group")
        self.log.close()
        for other in self.other_logs:
            if isinstance(other, EventLog):
                other.close()


def open_past_collector_log(settings: Settings) -> EventLog:
    """The log of a collector process that ran here before, to be drained by a loader.

    Its loader-ready batches (prepared.py) are a cache of the log, which the loader now
    decodes itself: they are removed, and the next collector process redoes them.
    """
    directory = collector_log_dir(settings)
    opened = EventLog.open(directory, segment_bytes=settings.log_segment_bytes)
    shutil.rmtree(directory / PREPARED_DIRECTORY, ignore_errors=True)
    return opened


def drain_stopped(settings: Settings, wh: Warehouse) -> dict[str, DrainResult]:
    """Store what every log of a stopped installation holds: the event log, the log of a
    collector process that ran here, and the bus (``OMNI_BUS_URL``) as one more loader
    of its group. Returns what was done per log, by name, in the order drained.

    What ``omni serve``'s loader drains, for when no server runs (``omni events drain``).
    """
    from omnichannel.ingest.loader import drain

    window = settings.dedupe_window
    done: dict[str, DrainResult] = {}
    with EventLog.open(settings.log_dir, segment_bytes=settings.log_segment_bytes) as local:
        done[str(settings.log_dir)] = drain(local, wh, dedupe_window=window)
    directory = collector_log_dir(settings)
    if directory.exists():
        with open_past_collector_log(settings) as its:
            done[str(directory)] = drain(its, wh, dedupe_window=window)
    if settings.bus_url is not None:
        bus = RedisBus.from_settings(settings)
        try:
            done[f"bus {settings.bus_stream}"] = drain(bus, wh, dedupe_window=window)
            bus.leave()
        finally:
            bus.close()
    return done
