"""Loader-ready Arrow batches of the collector process's log (``<its log>/prepared``).

With the collector in a process of its own (``OMNI_COLLECTOR_PORT``), the per-event
Python work of loading (JSON decode, the NUL check, the in-batch messageId dedupe, rows
to Arrow: ``loader.prepare_rows``) is done there too, on the log records it has made
durable, so it no longer holds the GIL of the process answering lookups. The main
process's loader then only maps an Arrow file and appends it (DuckDB releases the GIL),
with the same cross-batch dedupe, dead letters and checkpoint as before.

The log stays the only record of what was acknowledged; a batch is a cache of a range of
it, ``<start>-<end>.events.arrow`` beside ``.letters.arrow`` (Arrow IPC files):

- written to a temporary name and renamed, the letters first: an events file that exists
  means a whole batch;
- used only when it starts at the checkpoint; anything else (a file missing, unreadable,
  from another range, or a collector process that is gone or slow: ``GRACE_SECONDS``)
  and the loader decodes the log range itself, as it does its own log;
- not fsync'd: a machine crash may leave one torn, and a torn file is unreadable (an IPC
  file ends with a footer), so the log range is decoded instead;
- deleted once the checkpoint passes its end.

Example (what ``collector_process.py`` and the loader do)::

    batches = PreparedBatches(log_dir)
    batches.write(start, end, prepare_rows(entries))       # the collector process
    found = batches.read(tail.checkpoint())                 # the main process's loader
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path

import pyarrow as pa

from omnichannel.ingest.loader import PreparedRows
from omnichannel.ingest.log import DEFAULT_SEGMENT_BYTES, LogTail

log = logging.getLogger(__name__)

DIRECTORY = "prepared"
EVENTS = ".events.arrow"
LETTERS = ".letters.arrow"
# How long the loader waits for the collector process to prepare the bytes at its
# checkpoint before it decodes them itself (it prepares every loader interval).
GRACE_SECONDS = 5.0


class PreparedBatches:
    """The batch files of one log's ``prepared`` directory."""

    def __init__(self, log_directory: Path) -> None:
        self.directory = log_directory / DIRECTORY
        self.directory.mkdir(parents=True, exist_ok=True)

    def _stem(self, start: int, end: int) -> Path:
        return self.directory / f"{start:020d}-{end:020d}"

    def ranges(self) -> list[tuple[int, int]]:
        """(start, end) of every whole batch, by start."""
        found = []
        for name in os.listdir(self.directory):
            if name.endswith(EVENTS):
                start, _, end = name[: -len(EVENTS)].partition("-")
                if start.isdigit() and end.isdigit():
                    found.append((int(start), int(end)))
        return sorted(found)

    def write(self, start: int, end: int, rows: PreparedRows) -> None:
        stem = self._stem(start, end)
        counts = {b"records": str(rows.records).encode(), b"events_read": b"%d" % rows.events_read}
        for suffix, table in ((LETTERS, rows.letters), (EVENTS, rows.events)):
            table = table.replace_schema_metadata(counts)
            temporary = stem.with_name(stem.name + suffix + ".tmp")
            with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
                w.write_table(table)
            os.replace(temporary, stem.with_name(stem.name + suffix))

    def read(self, start: int) -> tuple[int, PreparedRows] | None:
        """The batch starting at ``start`` and its end, or None (none, or unreadable)."""
        ends = [end for first, end in self.ranges() if first == start]
        if not ends:
            return None
        stem = self._stem(start, ends[0])
        try:
            events, letters = (
                pa.ipc.open_file(pa.memory_map(str(stem.with_name(stem.name + s)))).read_all()
                for s in (EVENTS, LETTERS)
            )
            counts = events.schema.metadata or {}
            rows = PreparedRows(
                events=events.replace_schema_metadata(None),
                letters=letters.replace_schema_metadata(None),
                records=int(counts[b"records"]),
                events_read=int(counts[b"events_read"]),
            )
        except (OSError, pa.ArrowInvalid, KeyError, ValueError) as exc:
            # Torn by a crash, or trimmed meanwhile: the log range is decoded instead.
            log.warning("prepared batch %s unreadable (%s); decoding the log", stem.name, exc)
            return None
        return ends[0], rows

    def trim(self, offset: int) -> None:
        """Delete the batches wholly before ``offset`` (stored)."""
        for start, end in self.ranges():
            if end <= offset:
                self._delete(start, end)

    def resume(self, checkpoint: int) -> int:
        """Where a (re)started collector process goes on preparing: the end of the run of
        batches from ``checkpoint`` on; any other batch is deleted."""
        position = checkpoint
        for start, end in self.ranges():
            if start == position:
                position = end
            else:
                self._delete(start, end)
        return position

    def _delete(self, start: int, end: int) -> None:
        stem = self._stem(start, end)
        for suffix in (EVENTS, LETTERS):
            with contextlib.suppress(FileNotFoundError):
                stem.with_name(stem.name + suffix).unlink()


class PreparedTail(LogTail):
    """The collector process's log as its loader reads it: prepared batches first.

    ``prepared_to(end)`` (told over the pipe) wakes the loader; ``overdue`` says when it
    should stop waiting for a batch and decode the log itself.
    """

    def __init__(
        self, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES, end: int = 0
    ) -> None:
        super().__init__(directory, segment_bytes=segment_bytes, end=end)
        self.batches = PreparedBatches(directory)
        self.prepared_end = 0
        # Log records the loader stored from prepared batches, and decoded itself.
        self.records_prepared = 0
        self.records_decoded = 0
        self._waiting: tuple[int, float] | None = None
        self._lock = threading.Lock()

    def prepared_to(self, end: int) -> None:
        """The collector process has prepared every batch up to ``end``."""
        self.prepared_end = end
        for listener in list(self._listeners):
            listener.set()

    def overdue(self, start: int) -> bool:
        """True once the bytes at ``start`` have waited ``GRACE_SECONDS`` for a batch."""
        now = time.monotonic()
        with self._lock:
            if self._waiting is None or self._waiting[0] != start:
                self._waiting = (start, now)
            return now - self._waiting[1] >= GRACE_SECONDS

    def commit(self, offset: int) -> None:
        super().commit(offset)
        self.batches.trim(offset)
