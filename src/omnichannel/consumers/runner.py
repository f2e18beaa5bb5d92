"""Durable event consumers: each reads ``events`` after its own checkpoint, at least once.

A consumer (the real-time segment updater, the journey trigger...) is a name and a
``handle(batch)`` function. Its runner reads stored events in ``load_seq`` order after
the consumer's checkpoint, hands them over a batch at a time, and moves the checkpoint
only after ``handle`` returned. So:

- a crash or kill -9 anywhere replays at most the batch in hand, and misses nothing;
- a ``handle`` that raises gets the same batch again (with backoff) rather than losing
  it; ``handle`` must therefore be idempotent (upserts keyed by event or person);
- the in-process event stream only wakes the runner; the warehouse is the source.

Example::

    runner = ConsumerRunner(access, Checkpoints(opstore), [SegmentUpdater(...)])
    stream.subscribe(lambda batch: runner.wake())
    runner.start()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pyarrow as pa

from omnichannel.consumers.checkpoints import Checkpoints
from omnichannel.warehouse.access import WarehouseAccess, lower_thread_priority

log = logging.getLogger(__name__)

StartAt = Literal["beginning", "end"]


_AFTER = 'SELECT * FROM "events" WHERE "load_seq" > ? ORDER BY "load_seq" LIMIT ?'
_LATEST = 'SELECT max("load_seq") FROM "events"'


def _duckdb(wh: Any) -> Any:
    """The DuckDB connection of a reader, or None on other engines (they take Ibis)."""
    con = getattr(wh.con, "con", None)
    return con if wh.engine == "duckdb" and hasattr(con, "execute") else None


class Consumer(Protocol):
    """What a durable consumer provides."""

    name: str
    # Where a consumer seen for the first time starts: every stored event, or only new ones.
    start_at: StartAt

    def handle(self, batch: pa.Table) -> None:
        """Act on events (``events`` columns, ``load_seq`` order); raise to get them again."""


@dataclass
class FunctionConsumer:
    """A consumer made of a function, for small consumers and tests."""

    name: str
    function: Callable[[pa.Table], None]
    start_at: StartAt = "end"

    def handle(self, batch: pa.Table) -> None:
        self.function(batch)


@dataclass
class ConsumerState:
    """What the runner knows of one consumer, for /readyz, /metrics and the CLI."""

    position: int = 0
    handled: int = 0
    last_error: str | None = None
    failures: int = 0
    lag: int = 0
    idle: threading.Event = field(default_factory=threading.Event)


class ConsumerRunner:
    """Feeds every consumer its events after its checkpoint, one thread per consumer."""

    def __init__(
        self,
        access: WarehouseAccess,
        checkpoints: Checkpoints,
        consumers: Sequence[Consumer],
        *,
        batch_size: int = 10_000,
        interval: float = 1.0,
        max_backoff: float = 60.0,
    ) -> None:
        names = [c.name for c in consumers]
        if len(set(names)) != len(names):
            raise ValueError(f"consumer names must be unique, got {names}")
        self.access = access
        self.checkpoints = checkpoints
        self.consumers = list(consumers)
        self.batch_size = batch_size
        self.interval = interval
        self.max_backoff = max_backoff
        self.state = {c.name: ConsumerState() for c in consumers}
        self._wake = {c.name: threading.Event() for c in consumers}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # The last batch read, shared: every consumer wakes on the same stored batch and
        # asks for the same rows; one read serves them all (``_batch_after``).
        self._shared_lock = threading.Lock()
        self._shared: tuple[int, int, pa.Table] | None = None  # position, wakes, rows
        self._wakes = 0
        # Its own lock: the stream's wake must not wait for a read in progress.
        self._wakes_lock = threading.Lock()

    # --- reading -------------------------------------------------------------------

    def latest(self) -> int:
        """The highest ``load_seq`` stored (0 when none)."""
        with self.access.reader() as wh:
            con = _duckdb(wh)
            if con is not None:
                value = con.execute(_LATEST).fetchone()[0]
            else:
                events = wh.table("events")
                value = events.load_seq.max().to_pyarrow().as_py()
        return int(value or 0)

    def _position(self, consumer: Consumer) -> int:
        position = self.checkpoints.get(consumer.name)
        if position is None:
            position = self.latest() if consumer.start_at == "end" else 0
            self.checkpoints.set(consumer.name, position)
        return position

    def _batch_after(self, position: int) -> pa.Table:
        """The stored events after ``position``, at most ``batch_size`` of them.

        Consumers at the same position get the same rows from one read while no wake has
        announced newer ones since: at 5,000 events/s six consumers each reading the same
        batch cost more of a server's CPU than storing it. Only non-empty reads are shared,
        so a consumer handed one moves past it and reads afresh next time; events stored
        without a wake (another process) are seen within ``interval``, as before.
        """
        with self._shared_lock:
            shared = self._shared
            if shared is not None and shared[0] == position and shared[1] == self._wakes:
                return shared[2]
            wakes = self._wakes
            batch = self._read_after(position)
            if batch.num_rows:
                self._shared = (position, wakes, batch)
            return batch

    def _read_after(self, position: int) -> pa.Table:
        with self.access.reader() as wh:
            con = _duckdb(wh)
            if con is not None:
                # One prepared statement: building and compiling the same Ibis query on
                # every step cost several times the read itself (291 vs 50 ms median
                # beside a busy journey engine), and every consumer steps on each wake.
                return con.execute(_AFTER, [position, self.batch_size]).to_arrow_table()
            events = wh.table("events")
            expr = (
                events.filter(events.load_seq > position)
                .order_by(events.load_seq)
                .limit(self.batch_size)
            )
            return expr.to_pyarrow()

    def step(self, consumer: Consumer) -> int:
        """Hand the consumer its next batch and move its checkpoint; returns events handled."""
        state = self.state[consumer.name]
        position = self._position(consumer)
        batch = self._batch_after(position)
        if batch.num_rows == 0:
            state.position, state.lag = position, 0
            return 0
        consumer.handle(batch)
        # Only now: a crash before this line replays the batch, never skips it.
        newest = int(batch.column("load_seq").to_pylist()[-1])
        self.checkpoints.set(consumer.name, newest)
        state.position = newest
        state.handled += batch.num_rows
        return int(batch.num_rows)

    def catch_up(self, consumer: Consumer | None = None) -> int:
        """Run consumers until each has read everything stored now; returns events handled."""
        total = 0
        for c in [consumer] if consumer is not None else self.consumers:
            while True:
                handled = self.step(c)
                total += handled
                if handled < self.batch_size:
                    break
        return total

    def lag(self, name: str) -> int:
        """Events stored but not yet handled by the named consumer."""
        position = self.checkpoints.get(name) or 0
        return max(0, self.latest() - position)

    # --- running -------------------------------------------------------------------

    def wake(self) -> None:
        """New events are stored: let every consumer look now (the stream calls this)."""
        with self._wakes_lock:
            self._wakes += 1  # a shared read from before this may miss the new events
        for event in self._wake.values():
            event.set()

    def _loop(self, consumer: Consumer) -> None:
        # On a server its requests come first (warehouse/access.py, "Requests first").
        lower_thread_priority(self.access.background_nice)
        state = self.state[consumer.name]
        backoff = self.interval
        behind = False  # handed a full batch last time: a backlog is being read
        log.info("consumer started", extra={"consumer": consumer.name})
        woken = self._wake[consumer.name]
        while not self._stop.is_set():
            # Cleared before reading, not after waiting: a wake that comes while this step
            # reads (or between the wait and a later clear) must cause one more step, or
            # the events it announces wait for the next interval.
            woken.clear()
            try:
                handled = self.step(consumer)
            except Exception as exc:
                state.failures += 1
                state.last_error = f"{type(exc).__name__}: {exc}"
                backoff = min(backoff * 2, self.max_backoff)
                log.exception(
                    "consumer failed; the same events come again",
                    extra={
                        "consumer": consumer.name,
                        "position": state.position,
                        "failures": state.failures,
                        "retry_seconds": backoff,
                        "error": state.last_error,
                    },
                )
                self._stop.wait(backoff)
                continue
            if state.last_error is not None or (behind and handled < self.batch_size):
                what = "consumer recovered" if state.last_error else "consumer caught up"
                fields = {"consumer": consumer.name, "position": state.position}
                if handled < self.batch_size:
                    fields["lag"] = 0  # it read everything stored when it looked
                log.info(what, extra=fields)
            behind = handled >= self.batch_size
            state.last_error = None
            backoff = self.interval
            if handled < self.batch_size:
                state.idle.set()
                woken.wait(self.interval)
                state.idle.clear()

    def start(self) -> None:
        for consumer in self.consumers:
            thread = threading.Thread(
                target=self._loop, args=(consumer,), name=f"consumer-{consumer.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
