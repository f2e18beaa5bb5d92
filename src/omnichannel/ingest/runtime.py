"""What the server runs for ingestion: the event log, the loader thread, key lookup, the stream.

``Services`` starts one ``IngestRuntime`` when the server starts and stops it (final
drain, log closed, lock released) when it stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from omnichannel.config import Settings
from omnichannel.ingest.loader import Loader, WarehouseLease
from omnichannel.ingest.log import EventLog
from omnichannel.ingest.segment import Limits
from omnichannel.ingest.sources import KeyResolver
from omnichannel.ingest.stream import InProcessStream
from omnichannel.opstore import OpStore

log = logging.getLogger(__name__)


def limits_of(settings: Settings) -> Limits:
    return Limits(max_future=settings.event_max_future, max_age=settings.event_max_age)


@dataclass
class IngestRuntime:
    log: EventLog
    loader: Loader
    keys: KeyResolver
    stream: InProcessStream
    limits: Limits

    @classmethod
    def start(cls, settings: Settings, *, lease: WarehouseLease, opstore: OpStore) -> IngestRuntime:
        event_log = EventLog.open(settings.log_dir, segment_bytes=settings.log_segment_bytes)
        stream = InProcessStream()
        loader = Loader(event_log, lease, stream=stream, interval=settings.loader_interval)
        loader.start()
        log.info(
            "ingest: event log %s opened at offset %d (checkpoint %d)",
            settings.log_dir,
            event_log.end,
            event_log.checkpoint(),
        )
        return cls(
            event_log,
            loader,
            KeyResolver(opstore, settings.write_key_cache_seconds),
            stream,
            limits_of(settings),
        )

    def stop(self) -> None:
        self.loader.stop()
        self.log.close()
