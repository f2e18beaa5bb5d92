"""The event stream: every event the loader stores, published to whoever listens.

Real-time segments and journeys subscribe here instead of polling the warehouse. The
contract is the small ``EventStream`` protocol, so a Kafka or Redis Streams adapter can
replace the in-process one without touching the loader or the subscribers.

Example::

    stream = InProcessStream()
    unsubscribe = stream.subscribe(lambda batch: print(batch.num_rows))
    ...                       # the loader calls stream.publish(stored_rows)
    unsubscribe()

A batch is a ``pyarrow.Table`` with the ``events`` columns, holding only rows that were
newly stored (duplicates the loader skipped are not published), in load order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import pyarrow as pa

log = logging.getLogger(__name__)

Subscriber = Callable[[pa.Table], None]


@runtime_checkable
class EventStream(Protocol):
    """Where stored events go next; implement these two methods to plug in a broker."""

    def publish(self, batch: pa.Table) -> None:
        """Deliver one batch of newly stored events to every subscriber."""

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(batch)`` for each published batch; returns the unsubscribe function."""


class InProcessStream:
    """Subscribers in this process, called synchronously on the loader's thread.

    A subscriber that raises is logged and skipped: one broken consumer must not stop
    events being loaded, nor starve the other subscribers.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def publish(self, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(batch)
            except Exception:
                log.exception(
                    "event stream: subscriber %r failed on %d events", callback, batch.num_rows
                )

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)
