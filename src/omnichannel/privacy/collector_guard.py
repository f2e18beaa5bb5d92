"""What the collector checks beside a call's shape: erased people and each source's rate.

One ``CollectorGuard`` per server (kept on its ``Services``):

- **erased people**: calls whose ``userId``, ``anonymousId``, ``previousId`` or traits'
  email or phone hash to the suppression list are **dropped** before the request's log
  record is written (privacy/suppression.py); the answer is the usual success, so a
  client cannot probe who was erased;
- **rate per source**: a token bucket per source (its write keys share it), at
  ``OMNI_COLLECTOR_RATE_PER_KEY`` requests a second with bursts of
  ``OMNI_COLLECTOR_BURST_PER_KEY``; over it the answer is 429 with ``Retry-After``,
  counted in ``/metrics`` as a refused request with code ``rate_limited``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from omnichannel.access.ratelimit import TokenBuckets
from omnichannel.config import Settings
from omnichannel.opstore import OpStore
from omnichannel.privacy.secrets import read_secret_file
from omnichannel.privacy.suppression import (
    KEY_FILE,
    KEY_VARIABLE,
    REFRESH_SECONDS,
    ErasedIdentifiers,
)


class CollectorGuard:
    def __init__(
        self, store: OpStore, buckets: TokenBuckets, *, home: Path | None, log_dir: Path | None
    ) -> None:
        self.store = store
        self.buckets = buckets
        self._home = home
        self._log_dir = log_dir
        self._erased: ErasedIdentifiers | None = None
        self._looked = 0.0

    def admit(self, source: str) -> None:
        """Raise ``RateLimited`` when ``source`` is over its rate."""
        self.buckets.take(source, f"source {source!r}")

    @property
    def erased(self) -> ErasedIdentifiers | None:
        """The suppression list, once the home has a privacy key (the first erasure
        makes it; until then nobody is erased)."""
        if self._erased is None and time.monotonic() - self._looked > REFRESH_SECONDS:
            self._looked = time.monotonic()
            key = self._key()
            if key is not None:
                self._erased = ErasedIdentifiers(self.store, key)
        return self._erased

    def _key(self) -> bytes | None:
        if os.environ.get(KEY_VARIABLE):
            return os.environ[KEY_VARIABLE].encode("utf-8")
        # A collector without the installation's settings (the demo's, the collector
        # process) finds the home above its log directory.
        places = [self._home] if self._home is not None else []
        if self._log_dir is not None:
            places += [self._log_dir, *list(self._log_dir.parents)[:3]]
        for place in places:
            if place is not None and (place / KEY_FILE).exists():
                return read_secret_file(place / KEY_FILE)
        return None

    def erased_on_file(self) -> bool:
        erased = self.erased
        return erased is not None and bool(erased.hashes())

    def drop_erased(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        erased = self.erased
        return rows if erased is None else erased.drop_erased(rows)


def collector_guard(services: Any) -> CollectorGuard:
    """The server's guard, made on first use (``Services`` or the bare collector's)."""
    guard: CollectorGuard | None = getattr(services, "_collector_guard", None)
    if guard is None:
        settings: Settings = getattr(services, "settings", None) or Settings()
        runtime = services.ingest
        store = runtime.keys.store
        home = settings.home if hasattr(services, "settings") else None
        buckets = TokenBuckets(settings.collector_rate_per_key, settings.collector_burst_per_key)
        guard = CollectorGuard(store, buckets, home=home, log_dir=runtime.log.directory)
        services._collector_guard = guard
    return guard
