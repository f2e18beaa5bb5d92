"""The durable event log: what the collector has acknowledged, before the warehouse has it.

An event is acknowledged only once it is here and fsync'd. The log is a directory of
segment files (``<home>/log/<first offset>.log``) holding records framed as::

    b"OLR1" | length (u32, little endian) | crc32(length bytes + payload) (u32) | payload

A crash can leave the last record half written; the length and checksum catch that, and
opening the log truncates such a torn tail (only ever bytes that were never acknowledged,
since acknowledgement waits for fsync). Offsets are global byte positions, so a record's
offset never changes and the checkpoint is one number.

Group commit: ``submit`` queues a record and returns a future; one writer thread writes
everything queued so far with a single ``write`` and a single ``fsync`` and resolves all
their futures, so concurrent requests share one disk flush instead of queueing for one
each.

Example::

    log = EventLog.open(home / "log")
    offset = log.append(b"payload")          # returns once durable
    for entry in log.read(log.checkpoint(), max_bytes=1 << 20):
        ...
    log.commit(entry.next_offset)            # the loader has stored up to here
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from omnichannel.errors import OmniError
from omnichannel.ingest.group_commit import GroupCommit

log = logging.getLogger(__name__)

MAGIC = b"OLR1"
HEADER = struct.Struct("<4sII")
SUFFIX = ".log"
CHECKPOINT = "checkpoint.json"
# One record is one request (at most 500 KB of JSON); anything claiming far more is torn.
MAX_RECORD_BYTES = 64 * 1024 * 1024
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


class LogError(OmniError):
    """The event log cannot be opened or written."""


@dataclass(frozen=True)
class LogEntry:
    offset: int
    next_offset: int
    payload: bytes


def frame(payload: bytes) -> bytes:
    length = len(payload).to_bytes(4, "little")
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


def scan(data: bytes, start: int = 0) -> Iterator[tuple[int, int, bytes]]:
    """Valid records in ``data`` from ``start``: (position, end, payload); stops at a bad one."""
    position = start
    while position + HEADER.size <= len(data):
        magic, length, crc = HEADER.unpack_from(data, position)
        end = position + HEADER.size + length
        if magic != MAGIC or length > MAX_RECORD_BYTES or end > len(data):
            return
        payload = data[position + HEADER.size : end]
        if zlib.crc32(payload, zlib.crc32(length.to_bytes(4, "little"))) != crc:
            return
        yield position, end, payload
        position = end


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ReadableLog:
    """What the loader reads, checkpoints and trims: a log it writes itself
    (``EventLog``) or one another process writes (``LogTail``)."""

    directory: Path
    segment_bytes: int

    @property
    def end(self) -> int:
        """Offset just past the last durable record."""
        raise NotImplementedError

    def commit(self, offset: int) -> None:
        raise NotImplementedError

    def notify_on_write(self, event: threading.Event) -> None:
        raise NotImplementedError

    def segments(self) -> list[int]:
        """Base offsets of the segment files, oldest first."""
        return sorted(int(p.stem) for p in self.directory.glob(f"*{SUFFIX}") if p.stem.isdigit())

    def _path(self, base: int) -> Path:
        return self.directory / f"{base:020d}{SUFFIX}"

    def read(self, start: int, *, max_bytes: int = 8 * 1024 * 1024) -> list[LogEntry]:
        """Durable records from ``start`` on, about ``max_bytes`` of them (at least one)."""
        end = self.end
        entries: list[LogEntry] = []
        taken = 0
        bases = self.segments()
        for index, base in enumerate(bases):
            limit = bases[index + 1] if index + 1 < len(bases) else end
            if limit <= start or base >= end:
                continue
            with open(self._path(base), "rb") as handle:
                handle.seek(max(start - base, 0))
                data = handle.read(min(limit, end) - max(start, base))
            origin = max(start, base)
            consumed = 0
            for position, record_end, payload in scan(data):
                entries.append(LogEntry(origin + position, origin + record_end, payload))
                taken += len(payload)
                consumed = record_end
                if taken >= max_bytes:
                    return entries
            if consumed < len(data):
                log.error(
                    "event log: unreadable bytes at %d in %s; skipping to the next segment",
                    origin + consumed,
                    self._path(base),
                )
        return entries

    def checkpoint(self) -> int:
        """Offset up to which records are stored in the warehouse (0 for a new log)."""
        path = self.directory / CHECKPOINT
        try:
            return int(json.loads(path.read_text())["offset"])
        except FileNotFoundError:
            return 0

    def pending_bytes(self) -> int:
        """Durable bytes not yet stored in the warehouse (the loader's lag)."""
        return max(self.end - self.checkpoint(), 0)


class EventLog(ReadableLog):
    """An open log: one writer per directory (a lock file enforces it), any number of reads."""

    def __init__(self, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.torn_bytes = 0
        self._end_lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(directory / "LOCK", "a+")  # noqa: SIM115 - held while open
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise LogError(
                f"the event log {directory} is in use by another process "
                "(is `omni serve` running on this home?)"
            ) from None
        self._recover()
        self._commits = GroupCommit(
            self._write, label="the event log", where=str(directory), error=LogError
        )

    @classmethod
    def open(cls, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> EventLog:
        return cls(directory, segment_bytes=segment_bytes)

    # -- segments ---------------------------------------------------------------------

    def _recover(self) -> None:
        bases = self.segments()
        if not bases:
            bases = [self.checkpoint()]
            self._path(bases[0]).touch()
            _fsync_dir(self.directory)
        base = bases[-1]
        path = self._path(base)
        data = path.read_bytes()
        valid = 0
        for _position, end, _payload in scan(data):
            valid = end
        if valid < len(data):
            # Never acknowledged (acks wait for fsync of whole records), so safe to drop.
            self.torn_bytes = len(data) - valid
            log.warning("event log: dropped a torn tail of %d bytes in %s", self.torn_bytes, path)
            with open(path, "r+b") as handle:
                handle.truncate(valid)
                os.fsync(handle.fileno())
        self._base = base
        self._file = open(path, "ab")  # noqa: SIM115 - the active segment stays open
        self._durable_end = base + valid

    def _roll(self) -> None:
        self._file.close()
        self._base = self._durable_end
        self._file = open(self._path(self._base), "ab")  # noqa: SIM115
        _fsync_dir(self.directory)

    # -- writing ----------------------------------------------------------------------

    def submit(self, payload: bytes) -> Future[int]:
        """Queue a record; the future resolves to its offset once it is on disk."""
        return self._commits.submit(payload)

    def append(self, payload: bytes, timeout: float | None = 30) -> int:
        """Write one record and return its offset once it is fsync'd."""
        return self.submit(payload).result(timeout)

    def _write(self, payloads: list[bytes]) -> list[int]:
        offsets = []
        position = self._durable_end
        frames = []
        for payload in payloads:
            framed = frame(payload)
            offsets.append(position)
            position += len(framed)
            frames.append(framed)
        self._file.write(b"".join(frames))
        self._file.flush()
        os.fdatasync(self._file.fileno())
        with self._end_lock:
            self._durable_end = position
        if position - self._base >= self.segment_bytes:
            self._roll()
        return offsets

    def notify_on_write(self, event: threading.Event) -> None:
        """Set ``event`` after each group commit (the loader sleeps on it)."""
        self._commits.notify_on_write(event)

    # -- reading ----------------------------------------------------------------------

    @property
    def end(self) -> int:
        """Offset just past the last durable record."""
        with self._end_lock:
            return self._durable_end

    # -- checkpoint -------------------------------------------------------------------

    def commit(self, offset: int) -> None:
        """Record that everything before ``offset`` is stored; drop segments wholly before it."""
        path = self.directory / CHECKPOINT
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w") as handle:
            handle.write(json.dumps({"offset": offset}))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_dir(self.directory)
        bases = self.segments()
        for base, following in itertools.pairwise(bases):
            if following <= offset and base != self._base:
                self._path(base).unlink(missing_ok=True)

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Write what is queued, then release the file and the lock."""
        if not self._commits.close():
            return
        self._file.close()
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LogTail(ReadableLog):
    """The read side of a log that another process writes (``omni serve``'s collector
    process): the loader reads, checkpoints and trims it as it does its own log.

    Only the writer knows which bytes are fsync'd, so it tells: ``advance(end)`` after
    each group commit (``ingest/collector_process.py`` sends it over a pipe). Bytes past
    the last ``end`` told are never read, so nothing is stored that a crash of the
    machine could take back from the log after the checkpoint passed it.
    """

    def __init__(
        self, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES, end: int = 0
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._end = end
        self._cond = threading.Condition()
        self._listeners: list[threading.Event] = []
        self.on_advance: list[Callable[[int], None]] = []
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def end(self) -> int:
        with self._cond:
            return self._end

    def advance(self, end: int) -> None:
        """The writer has made everything before ``end`` durable (a restarted writer may
        tell a smaller end: the torn tail it dropped was never acknowledged)."""
        with self._cond:
            self._end = end
        for listener in list(self._listeners):
            listener.set()

    def notify_on_write(self, event: threading.Event) -> None:
        self._listeners.append(event)

    def commit(self, offset: int) -> None:
        """Record that everything before ``offset`` is stored; drop segments wholly before
        it, never the newest (the writer's open one)."""
        path = self.directory / CHECKPOINT
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w") as handle:
            handle.write(json.dumps({"offset": offset}))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_dir(self.directory)
        # ``base`` is never the newest segment: pairwise stops before it.
        for base, following in itertools.pairwise(self.segments()):
            if following <= offset:
                self._path(base).unlink(missing_ok=True)
