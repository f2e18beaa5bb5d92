"""One writer thread for many callers: records queued by any thread, written in groups.

The event log and the Redis bus both answer a request only once its record is durable,
and both pay one sync (the log's fdatasync, Redis's AOF fsync) per group, not per record:
every record queued while one group is being written goes into the next. This is that
queue and its thread; each store supplies ``write`` (records in, their offsets out,
durable when it returns).

Example::

    commits = GroupCommit(write, label="the event log", where=str(directory), error=LogError)
    offset = commits.submit(b"record").result(30)   # once written and synced
    commits.close()                                  # writes what is queued first
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

log = logging.getLogger(__name__)


class GroupCommit:
    """``submit`` from any thread; one thread calls ``write`` with everything queued."""

    def __init__(
        self,
        write: Callable[[list[bytes]], list[int]],
        *,
        label: str,
        where: str,
        error: Callable[[str], Exception],
    ) -> None:
        self._write = write
        self._label = label
        self._where = where
        self._error = error
        self._cond = threading.Condition()
        self._pending: list[tuple[bytes, Future[int]]] = []
        self._closed = False
        self._listeners: list[threading.Event] = []
        self._writer = threading.Thread(target=self._loop, name=label.split()[-1], daemon=True)
        self._writer.start()

    def submit(self, payload: bytes) -> Future[int]:
        """Queue a record; the future resolves to its offset once it is durable."""
        future: Future[int] = Future()
        with self._cond:
            if self._closed:
                raise self._error(f"{self._label} {self._where} is closed")
            self._pending.append((payload, future))
            self._cond.notify_all()
        return future

    def notify_on_write(self, event: threading.Event) -> None:
        """Set ``event`` after each group commit (a loader sleeps on it)."""
        self._listeners.append(event)

    def close(self) -> bool:
        """Write what is queued and stop; False if it was already closed."""
        with self._cond:
            if self._closed:
                return False
            self._closed = True
            self._cond.notify_all()
        self._writer.join()
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    return
                batch, self._pending = self._pending, []
            try:
                offsets = self._write([payload for payload, _future in batch])
            except BaseException as exc:  # a full disk or a lost server must fail the
                # requests (503: the SDKs retry), not hang them
                log.exception("%s: write failed", self._label)
                for _payload, future in batch:
                    future.set_exception(self._error(f"could not write {self._label}: {exc}"))
                continue
            for (_payload, future), offset in zip(batch, offsets, strict=True):
                future.set_result(offset)
            for listener in list(self._listeners):
                listener.set()
