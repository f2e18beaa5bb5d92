"""Long-lived resources the server shares between requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from omnichannel.config import Settings
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

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        with self._lock:
            if self._warehouse is None:
                self._warehouse = Warehouse.open(self.settings.resolved_warehouse_url)
            yield self._warehouse

    def close(self) -> None:
        with self._lock:
            if self._warehouse is not None:
                self._warehouse.close()
                self._warehouse = None
