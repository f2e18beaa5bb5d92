"""Long-lived resources the server shares between requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from omnichannel.api.auth import AdminTokens
from omnichannel.config import Settings
from omnichannel.ingest.runtime import IngestRuntime
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.warehouse import Warehouse


class Services:
    """Opens the warehouse on first use and serialises access to it.

    An Ibis backend is one connection, not safe to share between threads at once;
    FastAPI runs sync endpoints on a thread pool, so requests take turns. Opening
    lazily keeps /healthz and the home page up when the warehouse is busy elsewhere
    (DuckDB lets one process write a file at a time).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._warehouse: Warehouse | None = None
        self._lock = threading.RLock()
        self._opstore: OpStore | None = None
        self._opstore_lock = threading.Lock()
        # The collector's log and loader; started with the server (see start_ingest).
        self.ingest: IngestRuntime | None = None
        self._admin_tokens: AdminTokens | None = None

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        with self._lock:
            if self._warehouse is None:
                self._warehouse = Warehouse.open(self.settings.resolved_warehouse_url)
            yield self._warehouse

    def opstore(self) -> OpStore:
        """The operational store, opened (and migrated) on first use."""
        with self._opstore_lock:
            if self._opstore is None:
                self._opstore = open_opstore(self.settings.resolved_opstore_url)
            return self._opstore

    def admin_tokens(self) -> AdminTokens:
        """Checks ``Authorization: Bearer`` tokens of management and profile routes."""
        store = self.opstore()
        with self._opstore_lock:
            if self._admin_tokens is None or self._admin_tokens.store is not store:
                self._admin_tokens = AdminTokens(store, self.settings.write_key_cache_seconds)
            return self._admin_tokens

    def start_ingest(self) -> None:
        """Open the event log and start the loader (the server calls this on startup)."""
        if self.ingest is None:
            self.ingest = IngestRuntime.start(
                self.settings, lease=self.warehouse, opstore=self.opstore()
            )

    def close(self) -> None:
        if self.ingest is not None:
            self.ingest.stop()  # final drain needs the warehouse, so before closing it
            self.ingest = None
        with self._opstore_lock:
            if self._opstore is not None:
                self._opstore.close()
                self._opstore = None
        with self._lock:
            if self._warehouse is not None:
                self._warehouse.close()
                self._warehouse = None
