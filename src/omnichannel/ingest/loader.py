"""The loader: moves acknowledged records from the event log into the warehouse.

Each micro-batch is read from the checkpoint, de-duplicated on ``message_id`` (within the
batch and against what ``events`` already holds), appended, published on the event
stream, and only then checkpointed. A crash between the append and the checkpoint
replays the batch on restart, and the de-duplication stores nothing twice.

Example (what ``omni events drain`` and the tests do; the server runs ``Loader``)::

    with EventLog.open(home / "log") as log, open_warehouse(url) as wh:
        result = drain(log, wh)
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from omnichannel.ingest.deadletter import DeadLetter, encode_payload
from omnichannel.ingest.log import LogEntry, ReadableLog
from omnichannel.ingest.segment import TIMESTAMP_COLUMNS, micros
from omnichannel.ingest.storable import NUL_ACCEPTED
from omnichannel.ingest.stream import EventStream
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.access import lower_thread_priority
from omnichannel.warehouse.tables import DEAD_LETTERS, EVENTS

log = logging.getLogger(__name__)

RECORD_VERSION = 1
# The loader starts a micro-batch early once this much is waiting in the log.
GATHER_BYTES = 4 * 1024 * 1024
# A retried call is recognised by its messageId among the events stored this recently
# (Segment's look-back window is about a day; OMNI_DEDUPE_WINDOW changes it).
DEDUPE_WINDOW = timedelta(days=1)
# The loader counts as stalled when bytes wait this long with no batch stored.
STALL_SECONDS = 30.0


def encode_record(
    *, source: str, origin: str, events: list[dict[str, Any]], dead_letters: list[DeadLetter]
) -> bytes:
    """One log record: the rows a request produced, accepted and refused."""
    letters = []
    for letter in dead_letters:
        row = letter.row()
        row["received_at"] = micros(letter.received_at)
        letters.append(row)
    body = {
        "v": RECORD_VERSION,
        "source": source,
        "origin": origin,
        "events": events,
        "dead_letters": letters,
    }
    try:
        return orjson.dumps(body)
    except TypeError:
        # What orjson will not write (a lone surrogate, an integer over 64 bits) is
        # Python's json's to write or refuse, as before.
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _load_record(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        # Records written before orjson may hold what only Python's json reads (NaN).
        return json.loads(payload)


@dataclass
class DrainResult:
    """What one drain did; ``checkpoint`` is the log offset stored up to."""

    records: int = 0
    events_stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    checkpoint: int = 0

    def add(self, other: DrainResult) -> None:
        self.records += other.records
        self.events_stored += other.events_stored
        self.duplicates += other.duplicates
        self.dead_letters += other.dead_letters
        self.checkpoint = other.checkpoint

    def public(self) -> dict[str, int]:
        return {
            "records": self.records,
            "events_stored": self.events_stored,
            "duplicates": self.duplicates,
            "dead_letters": self.dead_letters,
            "checkpoint": self.checkpoint,
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# Rows converted to Arrow per call: ``from_pylist`` holds the GIL for the whole call
# (about 130 ms for a large batch), so request threads wait that long for it; between
# chunks they get it back within a switch interval (benchmarks/loader_gil.py).
ARROW_CHUNK_ROWS = 1000


def _rows_table(
    rows: list[dict[str, Any]], schema: pa.Schema, chunk: int | None = None
) -> pa.Table:
    """Log rows (timestamps in epoch microseconds) as Arrow with the table's types,
    converted ``chunk`` rows at a time (default ``ARROW_CHUNK_ROWS``)."""
    encoded = pa.schema(
        [pa.field(f.name, pa.int64()) if f.name in TIMESTAMP_COLUMNS else f for f in schema]
    )
    chunk = chunk or ARROW_CHUNK_ROWS
    if len(rows) <= chunk:
        return pa.Table.from_pylist(rows, schema=encoded).cast(schema)
    parts = [
        pa.Table.from_pylist(rows[i : i + chunk], schema=encoded).cast(schema)
        for i in range(0, len(rows), chunk)
    ]
    # Several chunks: DuckDB scans them in parallel, out of order; the insert numbers
    # load_seq by each row's ordinal in the batch (warehouse/engine.py ORDINAL), not by
    # scan order, so the log's order is kept.
    return pa.concat_tables(parts)


def first_of_each(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows with a key not seen earlier in the list (a batch may carry a retried call)."""
    seen: set[object] = set()
    kept = []
    for row in rows:
        if row[key] not in seen:
            seen.add(row[key])
            kept.append(row)
    return kept


def _decode(entries: list[LogEntry]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    letters: list[dict[str, Any]] = []
    for entry in entries:
        try:
            record = _load_record(entry.payload)
            events.extend(record["events"])
            letters.extend(record["dead_letters"])
        except (ValueError, KeyError, TypeError) as exc:
            # Passed the checksum yet unreadable: keep it whole rather than block the log.
            text, encoding = encode_payload(entry.payload)
            letters.append(
                {
                    "dead_letter_id": f"log-{entry.offset}",
                    "source": "unknown",
                    "kind": "log",
                    "origin": f"event log offset {entry.offset}",
                    "received_at": micros(_now()),
                    "payload": text,
                    "payload_encoding": encoding,
                    "field": "(record)",
                    "value": f"{len(entry.payload)} bytes",
                    "reason": f"unreadable record: {exc}",
                }
            )
    return events, letters


def _without_nul(
    entries: list[LogEntry], events: list[dict[str, Any]], letters: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Events holding a NUL character become dead letters; the others are returned.

    The collector refuses NUL (see ``storable.py``), so only records logged before it
    did can hold one; PostgreSQL would refuse the whole batch, and the loader would retry
    it without end. orjson writes NUL as ``\\u0000``, so records without that text skip
    the check.
    """
    if not any(b"\\u0000" in entry.payload for entry in entries):
        return events
    kept = []
    for row in events:
        column = next((k for k, v in row.items() if isinstance(v, str) and "\x00" in v), None)
        if column is None:
            kept.append(row)
            continue
        value = json.dumps(row[column])
        # The same id when a crash replays the batch, so the letter is stored once.
        digest = hashlib.sha256(repr(row.get("message_id")).encode()).hexdigest()[:24]
        letter = DeadLetter(
            source=str(row.get("source") or "unknown"),
            kind="event",
            origin="event log (logged before the collector refused NUL)",
            payload=orjson.dumps(row).decode("utf-8"),  # NUL written as \\u0000
            field=column,
            value=value if len(value) <= 80 else value[:77] + "...",
            reason=f"expected text {NUL_ACCEPTED}",
            reason_code="nul_character",
            dead_letter_id=f"nul-{digest}",
        )
        stored = letter.row()
        stored["received_at"] = row.get("received_at") or micros(letter.received_at)
        letters.append(stored)
    return kept


@dataclass
class PreparedRows:
    """The loader-ready form of some log records: what ``store_prepared`` appends.

    ``events`` are unique on ``message_id`` within the records, with ``loaded_at`` still
    empty (set when stored); ``letters`` are the refused calls, unreadable records and
    events holding NUL; ``events_read`` counts the events before the in-batch dedupe.
    """

    events: pa.Table
    letters: pa.Table
    records: int
    events_read: int


def prepare_rows(entries: list[LogEntry]) -> PreparedRows:
    """Decode, check and convert log records to Arrow: all of the loader's per-event
    Python work, which the collector process does for its own log (``prepared.py``)."""
    events, letters = _decode(entries)
    events = _without_nul(entries, events, letters)
    unique = first_of_each(events, "message_id")
    return PreparedRows(
        events=_rows_table(unique, EVENTS.schema.to_pyarrow()),
        letters=_rows_table(
            first_of_each(letters, "dead_letter_id"), DEAD_LETTERS.schema.to_pyarrow()
        ),
        records=len(entries),
        events_read=len(events),
    )


def store_prepared(
    log_: ReadableLog,
    wh: Warehouse,
    rows: PreparedRows,
    end: int,
    *,
    stream: EventStream | None = None,
    dedupe_window: timedelta | None = DEDUPE_WINDOW,
) -> DrainResult:
    """Append prepared rows not stored yet, publish them, then checkpoint ``log_`` at ``end``."""
    table = rows.events
    table = table.set_column(
        table.schema.get_field_index("loaded_at"),
        "loaded_at",
        pa.repeat(pa.scalar(_now(), pa.timestamp("us")), table.num_rows),
    )
    # The dedupe window: only events stored since then are compared (the cost follows the
    # batch, not the table); dead letters are few, compared with every stored one.
    since = None if dedupe_window is None else _now() - dedupe_window
    appended = wh.append_new(EVENTS.name, table, ("message_id",), since=since, returning=True)
    stored = appended.stored if appended.stored is not None else table.slice(0, 0)
    stored_letters = wh.append_new(DEAD_LETTERS.name, rows.letters, ("dead_letter_id",))
    if stream is not None:
        stream.publish(stored)
    log_.commit(end)
    return DrainResult(
        records=rows.records,
        events_stored=stored.num_rows,
        duplicates=rows.events_read - stored.num_rows,
        dead_letters=stored_letters.written,
        checkpoint=end,
    )


def load_once(
    log_: ReadableLog,
    wh: Warehouse,
    *,
    stream: EventStream | None = None,
    max_bytes: int = 8 * 1024 * 1024,
    dedupe_window: timedelta | None = DEDUPE_WINDOW,
) -> DrainResult:
    """Store one micro-batch from the checkpoint on; returns what it did (0 records: caught up)."""
    start = log_.checkpoint()
    entries = log_.read(start, max_bytes=max_bytes)
    if not entries:
        return DrainResult(checkpoint=start)
    return store_prepared(
        log_,
        wh,
        prepare_rows(entries),
        entries[-1].next_offset,
        stream=stream,
        dedupe_window=dedupe_window,
    )


def drain(
    log_: ReadableLog,
    wh: Warehouse,
    *,
    stream: EventStream | None = None,
    max_bytes: int = 8 * 1024 * 1024,
    dedupe_window: timedelta | None = DEDUPE_WINDOW,
) -> DrainResult:
    """Store everything durable in the log; returns the totals."""
    total = DrainResult(checkpoint=log_.checkpoint())
    while True:
        step = load_once(log_, wh, stream=stream, max_bytes=max_bytes, dedupe_window=dedupe_window)
        if step.records == 0:
            return total
        total.add(step)


WarehouseLease = Callable[[], AbstractContextManager[Warehouse]]


class Loader:
    """The server's background loader: drains the log after each group commit or tick.

    ``lease`` lends the warehouse for one micro-batch at a time (the server's lock), so
    API requests interleave with loading instead of waiting for a whole backlog.
    """

    def __init__(
        self,
        log_: ReadableLog,
        lease: WarehouseLease,
        *,
        stream: EventStream | None,
        interval: float = 0.5,
        dedupe_window: timedelta | None = DEDUPE_WINDOW,
        also: tuple[ReadableLog, ...] = (),
        nice: int = 0,
    ) -> None:
        """``nice``: a server's, so storing batches yields the cores to its requests."""
        self.log = log_
        self.nice = nice
        # Logs other writers append to (the collector process's), drained in turn.
        self.logs: tuple[ReadableLog, ...] = (log_, *also)
        self.lease = lease
        self.stream = stream
        self.interval = interval
        self.dedupe_window = dedupe_window
        self.totals = DrainResult(checkpoint=log_.checkpoint())
        self.last_error: str | None = None
        # When a batch was last stored, or the loader last found nothing to do.
        self.last_progress = time.monotonic()
        # Told of every stored batch (the server counts events in /metrics).
        self.on_batch: list[Callable[[DrainResult], None]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_load = 0.0
        self._thread = threading.Thread(target=self._run, name="event-loader", daemon=True)
        for each in self.logs:
            each.notify_on_write(self._wake)

    def start(self) -> None:
        self._thread.start()

    def _batches(self) -> Iterator[DrainResult]:
        # Store what was durable when this round began, then wait for the next interval:
        # under steady traffic the loader would otherwise never pause, and batches stay
        # small and many. Lease only when there is work: the warehouse may be unreachable.
        for each in self.logs:
            target = each.end
            while not self._stop.is_set() and each.checkpoint() < target:
                step = self._load(each, patient=True)
                if step is None or step.records == 0:
                    break
                self.last_progress = time.monotonic()
                yield step

    def _load(self, each: ReadableLog, *, patient: bool) -> DrainResult | None:
        """One micro-batch of ``each``: its prepared batch at the checkpoint if it has one
        (the collector process's log, ``prepared.py``), else decoded here; None while
        ``patient`` and a batch the collector process is preparing is not overdue."""
        from omnichannel.ingest.prepared import PreparedTail

        if isinstance(each, PreparedTail):
            start = each.checkpoint()
            found = each.batches.read(start)
            if found is not None:
                end, rows = found
                with self.lease() as wh:
                    step = store_prepared(
                        each, wh, rows, end, stream=self.stream, dedupe_window=self.dedupe_window
                    )
                each.records_prepared += step.records
                return step
            if patient and not each.overdue(start):
                return None
        with self.lease() as wh:
            step = load_once(each, wh, stream=self.stream, dedupe_window=self.dedupe_window)
        if isinstance(each, PreparedTail):
            each.records_decoded += step.records
        return step

    def pending_bytes(self) -> int:
        """Durable bytes not yet stored, over every log this loader drains."""
        return sum(each.pending_bytes() for each in self.logs)

    def health(self) -> dict[str, Any]:
        """Lag, last error and whether the loader is stalled (bytes waiting, no progress)."""
        pending = self.pending_bytes()
        if pending == 0:
            self.last_progress = time.monotonic()
        idle = time.monotonic() - self.last_progress
        alive = self._thread.is_alive()
        stalled = pending > 0 and (not alive or idle > max(STALL_SECONDS, 20 * self.interval))
        return {
            "running": alive,
            "pending_bytes": pending,
            "seconds_since_progress": round(idle, 3),
            "stalled": stalled,
            "last_error": self.last_error,
            "events_stored": self.totals.events_stored,
        }

    def _gather(self) -> None:
        # One micro-batch per interval at most, unless a backlog builds up: the loader
        # shares the CPU with the request path, and one large batch costs far less than
        # one per group commit.
        wait = self._last_load + self.interval - time.monotonic()
        if wait > 0 and self.pending_bytes() < GATHER_BYTES:
            self._stop.wait(wait)

    def _run(self) -> None:
        lower_thread_priority(self.nice)
        backoff = self.interval
        while not self._stop.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            self._gather()
            self._last_load = time.monotonic()
            try:
                for step in self._batches():
                    self.totals.add(step)
                    for listener in self.on_batch:
                        listener(step)
                if self.last_error is not None:
                    log.info("loader recovered", extra={"pending_bytes": self.pending_bytes()})
                self.last_error = None
                backoff = self.interval
            except Exception as exc:
                # Events stay safe in the log; retry later (e.g. the warehouse is busy).
                self.last_error = str(exc)
                backoff = min(backoff * 2, 30.0)
                log.exception(
                    "loader could not store events; retrying",
                    extra={"pending_bytes": self.pending_bytes(), "retry_seconds": backoff},
                )

    def stop(self, timeout: float = 30) -> None:
        """Stop the thread, then store what is left, for at most ``timeout`` seconds in all.

        A clean shutdown leaves no lag when it can; after a long backlog the rest stays in
        the log (durable) and the next start stores it, rather than a stop that outlasts
        the service manager's patience and ends in a SIGKILL anyway.
        """
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        for each in self.logs:
            if each.pending_bytes() == 0:
                continue
            try:
                while each.pending_bytes() > 0:
                    if time.monotonic() >= deadline:
                        log.warning(
                            "loader stopped with events still in the log; the next start "
                            "stores them",
                            extra={
                                "pending_bytes": each.pending_bytes(),
                                "log": str(each.directory),
                            },
                        )
                        break
                    step = self._load(each, patient=False)
                    if step is None or step.records == 0:
                        break
                    self.totals.add(step)
            except Exception:
                log.exception(
                    "loader final drain failed; events remain in the log",
                    extra={"pending_bytes": each.pending_bytes(), "log": str(each.directory)},
                )
