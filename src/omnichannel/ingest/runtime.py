"""What the server runs for ingestion: the event log, the loader thread, key lookup, the stream.

``Services`` starts one ``IngestRuntime`` when the server starts and stops it (counts of
unauthenticated requests stored, final drain, log closed, lock released) when it stops.
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
from omnichannel.ingest.unauthorized import UnauthorizedRequests
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
    # None: the settings' defaults (the demo's in-process collector builds a runtime itself).
    unauthorized_requests: UnauthorizedRequests | None = None

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
    def start(cls, settings: Settings, *, lease: WarehouseLease, opstore: OpStore) -> IngestRuntime:
        event_log = EventLog.open(settings.log_dir, segment_bytes=settings.log_segment_bytes)
        stream = InProcessStream()
        loader = Loader(
            event_log,
            lease,
            stream=stream,
            interval=settings.loader_interval,
            dedupe_window=settings.dedupe_window,
        )
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
            UnauthorizedRequests(
                opstore,
                sample_per_hour=settings.unauthorized_sample_per_hour,
                sample_bytes=settings.unauthorized_sample_bytes,
            ),
        )

    def stop(self) -> None:
        try:
            self.unauthorized.flush()
        except Exception:
            log.exception("ingest: could not store the count of unauthenticated requests")
        self.loader.stop()
        self.log.close()
