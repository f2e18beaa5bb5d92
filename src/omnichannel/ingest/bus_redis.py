"""The durable bus (``OMNI_BUS_URL``): a Redis stream between collectors and loaders.

Collectors append each accepted request's record to one stream (XADD) and answer only
once Redis has replied; Redis must run with ``appendonly yes`` and ``appendfsync
always``, so its reply comes after the AOF write is fsync'd (checked when the bus opens).
Loaders read the stream in one consumer group (XREADGROUP), store each micro-batch
(idempotently on ``message_id``, as for the file log) and only then XACK it. Entries a
loader read and never acknowledged (it died, or hangs) are claimed by another loader once
they have waited ``OMNI_BUS_CLAIM_SECONDS`` (XAUTOCLAIM): at-least-once delivery, stored
exactly once by ``message_id``.

``RedisBus`` has the two faces of the file log, so nothing around it changes: the
collector's ``submit(payload)`` (a future resolved once durable, one group commit per
batch of concurrent requests), and the loader's ``ReadableLog`` (``read``, ``commit``,
``end``, ``checkpoint``). Offsets are the stream ids packed in one integer; ``end`` and
``checkpoint`` count bytes appended and bytes acknowledged, over every collector and
loader of the stream, so ``pending_bytes`` is the cluster's lag as for a file log.

Example::

    bus = RedisBus.open("redis://127.0.0.1:6379/0", directory=home / "log")
    bus.append(record)                       # returns once Redis has it on disk
    entries = bus.read(bus.checkpoint())     # this loader's next entries
    ...                                      # store them
    bus.commit(entries[-1].next_offset)      # XACK after the warehouse commit
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from omnichannel.ingest.group_commit import GroupCommit
from omnichannel.ingest.log import DEFAULT_SEGMENT_BYTES, LogEntry, LogError, ReadableLog

if TYPE_CHECKING:
    import redis

    from omnichannel.config import Settings

log = logging.getLogger(__name__)

FIELD = b"r"
# Entries asked for per read: a record is one request (typically 10-100 KB), so this is
# about the file log's 8 MB micro-batch; entries past ``max_bytes`` stay in this
# loader's pending list and come first in the next read.
READ_COUNT = 500
# A stream id is <milliseconds>-<sequence>; the sequence stays far below 2**20 (it
# counts entries added within one millisecond).
SEQUENCE_BITS = 20

# XACK each id and count the bytes of those this call acknowledged (a claimed entry may
# be acknowledged by its slow first reader too: its bytes must count once), then trim
# what every loader has acknowledged: below the oldest pending id, or, with nothing
# pending, below this batch's last id (all delivered ids below it are acknowledged).
ACK_SCRIPT = """
local stored = 0
for i = 3, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    stored = stored + tonumber(ARGV[i + 1])
  end
end
if stored > 0 then redis.call('INCRBY', KEYS[2], stored) end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
local floor = ARGV[2]
if pending[1] > 0 then floor = pending[2] end
redis.call('XTRIM', KEYS[1], 'MINID', '~', floor)
return stored
"""


# Remove a consumer from the group only if it holds no entry: XGROUP DELCONSUMER drops
# the entries a consumer holds from the group's pending list, which would lose them.
# In one script, so no read can hand it an entry between the check and the removal.
FORGET_SCRIPT = """
local held = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #held > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
"""


# Replace one entry by another record (or by nothing), keeping the byte counters true:
# the old entry's bytes count as stored (no loader will acknowledge them by size now),
# the new one's as added. Used by erasure: a stream entry cannot be changed in place.
REPLACE_SCRIPT = """
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('INCRBY', KEYS[3], ARGV[2])
if #ARGV[3] > 0 then
  redis.call('XADD', KEYS[1], '*', ARGV[4], ARGV[3])
  redis.call('INCRBY', KEYS[2], #ARGV[3])
end
return 1
"""
SCAN_PAGE = 500


class BusError(LogError):
    """The bus cannot be reached, is not durable, or refused a write."""


def _offset(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    millis, sequence = text.split("-")
    return (int(millis) << SEQUENCE_BITS) | int(sequence)


@dataclass(frozen=True)
class _Delivered:
    entry_id: bytes
    size: int


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def check_durable(client: redis.Redis, url: str) -> None:
    """Refuse a Redis that may lose what it has acknowledged (no AOF fsync per write)."""
    import redis as redis_module

    try:
        config = client.config_get("append*")
    except redis_module.ResponseError as exc:
        raise BusError(
            f"OMNI_BUS_URL={url}: cannot read the server's persistence settings "
            f"(CONFIG GET: {exc}); the bus needs appendonly yes and appendfsync always"
        ) from None
    appendonly = config.get("appendonly")
    appendfsync = config.get("appendfsync")
    if appendonly != "yes" or appendfsync != "always":
        raise BusError(
            f"OMNI_BUS_URL={url}: the Redis server runs with appendonly {appendonly} and "
            f"appendfsync {appendfsync}; the bus acknowledges events only when Redis has "
            "them on disk, which needs appendonly yes and appendfsync always "
            "(redis-server --appendonly yes --appendfsync always)"
        )


class RedisBus(ReadableLog):
    """One connection to the stream: the collector's writer and one loader's reader."""

    def __init__(
        self,
        url: str,
        *,
        directory: Path,
        stream: str = "omni:events",
        group: str = "loaders",
        consumer: str | None = None,
        claim_seconds: float = 30.0,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        forget_idle_seconds: float | None = None,
    ) -> None:
        """``forget_idle_seconds``: how long another consumer of the group may go without
        reading, holding nothing, before a loader removes it from the group (default
        ten claim ages, at least 10 minutes). Consumers are named by host and pid, so
        every restart adds one; without this, XINFO CONSUMERS grows with every restart."""
        import redis as redis_module

        self.url = redacted(url)
        # Beside the local log: the server's disk checks and erasure scans look there.
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.stream = stream
        self.group = group
        self.consumer = consumer or default_consumer()
        self.claim_ms = int(claim_seconds * 1000)
        if forget_idle_seconds is None:
            forget_idle_seconds = max(10 * claim_seconds, 600.0)
        self.forget_idle_ms = int(forget_idle_seconds * 1000)
        self._next_forget = 0.0
        self._added_key = f"{stream}:bytes-added"
        self._stored_key = f"{stream}:{group}:bytes-stored"
        try:
            self._client = redis_module.Redis.from_url(url, socket_timeout=30)
            self._client.ping()
        except (redis_module.RedisError, ValueError) as exc:
            raise BusError(
                f"OMNI_BUS_URL={self.url}: cannot reach the Redis server ({exc}); expected "
                "redis://host:port/db of a running redis-server"
            ) from None
        check_durable(self._client, self.url)
        try:
            self._client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis_module.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise BusError(
                    f"OMNI_BUS_URL={self.url}: cannot create the consumer group {group}: {exc}"
                ) from None
        self._ack = self._client.register_script(ACK_SCRIPT)
        self._forget = self._client.register_script(FORGET_SCRIPT)
        self._replace = self._client.register_script(REPLACE_SCRIPT)
        self._delivered: dict[int, _Delivered] = {}
        self._claim_cursor = "0-0"
        self._counters: dict[str, int] = {}
        self._finishing = False
        directory.mkdir(parents=True, exist_ok=True)
        self._commits = GroupCommit(self._write, label="the event bus", where=url, error=BusError)

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> RedisBus:
        return cls(url, **kwargs)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisBus:
        assert settings.bus_url is not None
        return cls(
            settings.bus_url,
            directory=settings.log_dir,
            stream=settings.bus_stream,
            group=settings.bus_group,
            consumer=settings.bus_consumer,
            claim_seconds=settings.bus_claim_seconds,
            segment_bytes=settings.log_segment_bytes,
        )

    @classmethod
    def check(cls, settings: Settings) -> None:
        """Open and close the bus: ``omni serve`` refuses to start, in one line, on a
        Redis it cannot reach or that may lose what it acknowledged."""
        cls.from_settings(settings).close()

    # -- the collector's side ---------------------------------------------------------

    def submit(self, payload: bytes) -> Future[int]:
        """Queue a record; the future resolves to its offset once Redis has it on disk."""
        return self._commits.submit(payload)

    def append(self, payload: bytes, timeout: float | None = 30) -> int:
        return self.submit(payload).result(timeout)

    def _write(self, payloads: list[bytes]) -> list[int]:
        # One MULTI/EXEC: the entries and the byte count land together, and Redis answers
        # after one AOF write and fsync for the whole group.
        pipe = self._client.pipeline(transaction=True)
        for payload in payloads:
            pipe.xadd(self.stream, {FIELD: payload})
        pipe.incrby(self._added_key, sum(len(p) for p in payloads))
        return [_offset(entry_id) for entry_id in pipe.execute()[:-1]]

    def notify_on_write(self, event: threading.Event) -> None:
        """Set ``event`` after each of this process's group commits (its loader wakes)."""
        self._commits.notify_on_write(event)

    # -- the loader's side ------------------------------------------------------------

    @property
    def end(self) -> int:
        """Bytes every collector has appended to the stream."""
        return self._counter(self._added_key)

    def checkpoint(self) -> int:
        """Bytes the group's loaders have stored and acknowledged."""
        return self._counter(self._stored_key)

    def _counter(self, key: str) -> int:
        # Stats and health read these: while Redis is unreachable they show the last
        # value read (the loader's own reads fail, and its error and stall say so).
        import redis as redis_module

        try:
            value = int(self._client.get(key) or 0)
        except redis_module.RedisError as exc:
            log.warning("event bus %s unreachable: %s", self.url, exc)
            return self._counters.get(key, 0)
        self._counters[key] = value
        return value

    def finish_own(self) -> None:
        """Read only this consumer's unacknowledged entries from now on (the server is
        stopping: its final drain stores what it holds and leaves new entries to the
        other loaders, instead of following a busy stream without end)."""
        self._finishing = True

    def read(self, start: int, *, max_bytes: int = 8 * 1024 * 1024) -> list[LogEntry]:
        """This loader's next entries: its own unacknowledged ones first (a failed batch,
        or a restart under the same name), then others' long-unacknowledged ones
        (claimed), then new ones. ``start`` is unused: the group tracks delivery."""
        del start
        entries = self._own_pending()
        if not entries and not self._finishing:
            entries = self._claimed() or self._new()
        taken: list[LogEntry] = []
        size = 0
        for entry_id, fields in entries:
            payload = (fields or {}).get(FIELD)
            if payload is None:  # trimmed or deleted under us: nothing to store
                self._client.xack(self.stream, self.group, entry_id)
                continue
            offset = _offset(entry_id)
            self._delivered[offset] = _Delivered(entry_id, len(payload))
            taken.append(LogEntry(offset, offset + 1, payload))
            size += len(payload)
            if size >= max_bytes:
                break
        return taken

    def _own_pending(self) -> list[Any]:
        return self._group_read("0")

    def _new(self) -> list[Any]:
        return self._group_read(">")

    def _group_read(self, from_id: str) -> list[Any]:
        # RESP2 (redis-py's default): [[stream, [(id, fields), ...]]], or empty.
        reply: Any = self._client.xreadgroup(
            self.group, self.consumer, {self.stream: from_id}, count=READ_COUNT
        )
        return list(reply[0][1]) if reply else []

    def _claimed(self) -> list[Any]:
        self._forget_idle_consumers()
        cursor, entries, *_deleted = self._client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.claim_ms,
            start_id=self._claim_cursor,
            count=READ_COUNT,
        )
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        return list(entries)

    def _forget_idle_consumers(self) -> None:
        """Remove the group's consumers that hold nothing and have not read for
        ``forget_idle_seconds`` (loaders that stopped or died); at most once a claim age.
        One that comes back is added again by its next read."""
        now = time.monotonic()
        if now < self._next_forget:
            return
        self._next_forget = now + max(self.claim_ms / 1000, 1.0)
        for consumer in self._client.xinfo_consumers(self.stream, self.group):
            name = consumer["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            if (
                name == self.consumer
                or consumer["pending"]
                or consumer["idle"] < self.forget_idle_ms
            ):
                continue
            if self._forget(keys=[self.stream], args=[self.group, name]) >= 0:
                log.info(
                    "event bus: removed an idle consumer from the group",
                    extra={"consumer": name, "idle_seconds": consumer["idle"] // 1000},
                )

    def leave(self) -> bool:
        """Remove this consumer from the group if it holds nothing (a clean stop, after
        the final drain); returns whether it was removed."""
        return int(self._forget(keys=[self.stream], args=[self.group, self.consumer])) >= 0

    def commit(self, offset: int) -> None:
        """XACK the entries read before ``offset``: the warehouse has committed them."""
        done = sorted(o for o in self._delivered if o < offset)
        if not done:
            return
        arguments: list[Any] = [self.group, self._delivered[done[-1]].entry_id]
        for each in done:
            delivered = self._delivered.pop(each)
            arguments += [delivered.entry_id, delivered.size]
        self._ack(keys=[self.stream, self._stored_key], args=arguments)

    def segments(self) -> list[int]:
        return []  # no files: the entries are in Redis

    # -- erasure ----------------------------------------------------------------------

    def records(self) -> Iterator[tuple[bytes, bytes]]:
        """``(entry id, record)`` of every entry in the stream, oldest first: what no
        loader has stored yet (acknowledged entries are trimmed)."""
        start = "-"
        while True:
            reply: Any = self._client.xrange(self.stream, min=start, max="+", count=SCAN_PAGE)
            page = list(reply or [])
            for entry_id, fields in page:
                payload = (fields or {}).get(FIELD)
                if payload is not None:
                    yield bytes(entry_id), bytes(payload)
            if len(page) < SCAN_PAGE:
                return
            last = page[-1][0]
            start = "(" + (last.decode() if isinstance(last, bytes) else str(last))

    def replace(self, entry_id: bytes, old: bytes, new: bytes | None) -> bool:
        """Put record ``new`` (None: nothing) in place of entry ``entry_id`` holding
        ``old``, as a new entry at the stream's end; False if the entry is gone already.
        A loader holding the old entry reads it as deleted and acknowledges it."""
        keys = [self.stream, self._added_key, self._stored_key]
        return bool(self._replace(keys=keys, args=[entry_id, len(old), new or b"", FIELD]))

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Write what is queued, then close the connection."""
        if self._commits.close():
            self._client.close()

    def __enter__(self) -> RedisBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
