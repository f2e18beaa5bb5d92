"""Load a file of Segment-spec calls (JSONL, gzip'd JSONL or Parquet) into ``events``.

This is how an export or archive comes in (e.g. what Segment writes to S3: one call
per line). The rules are the collector's (``segment.validate_call``), written as one
DuckDB query per chunk so half a million lines load in seconds rather than minutes;
refused lines go to ``dead_letters`` with the field, value and reason; loading the same
file again adds nothing (``message_id`` for events, a content hash for dead letters).

Example::

    with open_warehouse(url) as wh:
        result = load_events_file(wh, Path("archive.jsonl.gz"), source="segment-archive")
    result.events_stored, result.rejected
"""

from __future__ import annotations

import gzip
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TypeVar, cast

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as sge

from omnichannel.errors import ValidationError
from omnichannel.ingest.events_sql import check_query
from omnichannel.ingest.segment import Limits
from omnichannel.ingest.storable import Unstorable, check_call, loads_bounded
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.tables import DEAD_LETTERS, EVENTS

Progress = Callable[[str, int, int], None]
_T = TypeVar("_T")
CHUNK_BYTES = 64 * 1024 * 1024
PARQUET_ROWS = 262_144  # a Parquet block: about CHUNK_BYTES of typical calls as JSON
STAGE = "load events"


@dataclass(frozen=True)
class LoadResult:
    path: str
    source: str
    lines: int
    events_stored: int
    duplicates: int
    rejected: int
    seconds: float

    def public(self) -> dict[str, object]:
        return dict(self.__dict__)


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    """Blocks of whole lines (a line is never split across blocks)."""
    rest = b""
    while True:
        block = handle.read(CHUNK_BYTES)
        if not block:
            if rest:
                yield rest
            return
        block = rest + block
        cut = block.rfind(b"\n")
        if cut < 0:
            rest = block
            continue
        yield block[: cut + 1]
        rest = block[cut + 1 :]


def _lines(block: bytes, first: int) -> pa.Table:
    """``(idx, raw, text)``: each line's bytes without its newline, numbered from ``first``."""
    data = np.frombuffer(block, np.uint8)
    ends = np.flatnonzero(data == 10)
    count = len(ends) + (0 if block.endswith(b"\n") else 1)
    # Dropping the newlines leaves the lines back to back; line k ends k bytes earlier.
    offsets = np.empty(count + 1, np.int64)
    offsets[0] = 0
    offsets[1 : len(ends) + 1] = ends - np.arange(len(ends))
    offsets[-1] = len(data) - len(ends)
    packed = data[data != 10] if len(ends) else data
    raw = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), count, [None, pa.py_buffer(offsets), pa.py_buffer(packed)]
    )
    idx = pa.array(np.arange(first, first + count, dtype=np.int64))
    return _with_text(pa.table({"idx": idx, "raw": raw}))


def _with_text(table: pa.Table) -> pa.Table:
    """Adds ``text``: each line as UTF-8 text without trailing CRs; NULL if not UTF-8."""
    raw = table.column("raw")
    try:
        text = raw.cast(pa.large_string())
    except pa.ArrowInvalid:
        # Rare: some line is not UTF-8; find which, one line at a time.
        text = pa.array([_utf8(value) for value in raw.to_pylist()], pa.large_string())
    if pc.any(pc.ends_with(text, "\r")).as_py():
        text = pc.utf8_rtrim(text, characters="\r")
    table = table.append_column("text", text)
    # Many record batches, so DuckDB scans them on all cores.
    return pa.Table.from_batches(table.to_batches(max_chunksize=16_384))


def _suspects(limits: Limits) -> str:
    """RE2 for lines that may hold what storable.check_call refuses; most lines do not."""
    return (
        rf"(?:^(?:[^{{\[]*[{{\[]){{{limits.max_depth + 1}}})"  # more brackets than levels
        r"|\\u[dD][89a-fA-F]"  # a \uD800-\uDFFF escape: maybe a lone surrogate
        r"|\\u0000"  # a NUL escape (refused on every engine: see storable.py)
        r"|[0-9]{300}"  # a long run of digits: maybe a giant integer, or an infinity
        # A number ending in a 3-digit exponent: maybe beyond a double (1e999). The
        # delimiter after it keeps hex ids such as "9e123f" out.
        r"|[0-9.][eE]\+?[0-9]{3,}\s*(?:[,}\]]|$)"
        # NaN or Infinity as a value: DuckDB reads nan, inf, Infinity in any case.
        r"|(?:^|[:,\[])\s*-?(?i:nan|inf)"
    )


def _verdict(line: str, max_depth: int) -> tuple[str, str, str] | None:
    """(field, value, reason) when the collector would refuse this line's call as unstorable."""
    try:
        value, cut = loads_bounded(line, cut_depth=max_depth + 2)
    except ValueError:
        # Not JSON to the collector, so not to us either, even where DuckDB's parser is
        # laxer (it reads nan, inf and -NaN): the words of the query's own rule.
        return "(line)", line[:200], "expected a valid JSON document"
    try:
        check_call(value, max_depth=max_depth, cut=cut)
    except Unstorable as bad:
        return bad.field, bad.value, bad.reason
    return None


def _guarded(lines: pa.Table, limits: Limits) -> pa.Table:
    """Adds ``guard_field``, ``guard_value``, ``guard_reason``: the collector's refusals of
    calls that cannot be stored, checked in Python for the few lines that may hold one."""
    text = lines.column("text")
    suspect = np.flatnonzero(
        pc.fill_null(pc.match_substring_regex(text, _suspects(limits)), False).to_numpy(
            zero_copy_only=False
        )
    )
    verdicts: dict[int, tuple[str, str, str]] = {}
    for row in suspect.tolist():
        line = text[row].as_py()
        if line is not None and (found := _verdict(line, limits.max_depth)) is not None:
            verdicts[row] = found
    columns = []
    for part in range(3):
        values: list[str | None] = [None] * lines.num_rows
        for row, found in verdicts.items():
            values[row] = found[part]
        columns.append(pa.array(values, pa.large_string()))
    return pa.Table.from_batches(
        lines.append_column("guard_field", columns[0])
        .append_column("guard_value", columns[1])
        .append_column("guard_reason", columns[2])
        .to_batches(max_chunksize=16_384)
    )


def _utf8(value: bytes | None) -> str | None:
    try:
        return None if value is None else value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _parquet_blocks(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[tuple[pa.Table, int]]:
    """A Parquet file as blocks of lines (each row as its JSON text), streamed: a file of
    100,000,000 rows is never held whole (as one block it took ~25x the file in memory)."""
    reader_con = con.cursor()  # a query on ``con`` would end this cursor's stream
    try:
        total = reader_con.sql(
            "SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata($path)",
            params={"path": str(path)},
        ).fetchone()
        rows = max(1, int(total[0]) if total else 1)
        size = path.stat().st_size
        stream = reader_con.sql(
            "SELECT encode(to_json(t)::VARCHAR) AS raw FROM read_parquet($path) t",
            params={"path": str(path)},
        ).to_arrow_reader(PARQUET_ROWS)
        first = 1
        for batch in stream:
            count = batch.num_rows
            idx = pa.array(np.arange(first, first + count, dtype=np.int64))
            lines = pa.table({"idx": idx, "raw": batch.column("raw")})
            first += count
            yield _with_text(lines), size * min(first - 1, rows) // rows
    finally:
        reader_con.close()


def _blocks(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[tuple[pa.Table, int]]:
    """(lines table, bytes read so far) per block."""
    if path.suffix == ".parquet":
        yield from _prefetched(_parquet_blocks(con, path))
        return
    yield from _prefetched(_text_blocks(path))


def _text_blocks(path: Path) -> Iterator[tuple[pa.Table, int]]:
    first = 1
    with open(path, "rb") as raw:
        handle = cast(IO[bytes], gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw)
        for block in _chunks(handle):
            lines = _lines(block, first)
            first += lines.num_rows
            yield lines, raw.tell()


def _prefetched(items: Iterator[_T]) -> Iterator[_T]:
    """``items``, the next one read and split in a thread while DuckDB checks this one."""
    with ThreadPoolExecutor(1, thread_name_prefix="events-file-read") as pool:
        upcoming = pool.submit(next, items, None)
        while (item := upcoming.result()) is not None:
            upcoming = pool.submit(next, items, None)
            yield item


# What the check query makes; loaded_at is stamped here, load_seq numbered as stored.
_EVENT_COLUMNS = ", ".join(
    f'"{name}"' for name in EVENTS.schema.names if name not in ("loaded_at", "load_seq")
)


# Lines, refused lines, and accepted lines repeating an earlier line's message_id.
_COUNTS = (
    "SELECT count(*), count(refused_field), "
    "count(*) FILTER (WHERE refused_field IS NULL) "
    "- count(DISTINCT message_id) FILTER (WHERE refused_field IS NULL) FROM {checked}"
)


def _accepted(rows: str, repeats: bool) -> str:
    # The window sorts whole rows; a block without repeated ids (the usual) skips it.
    first = (
        " QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY idx) = 1" if repeats else ""
    )
    return (
        f"SELECT {_EVENT_COLUMNS}, $loaded_at::TIMESTAMP AS loaded_at FROM {rows} "
        f"WHERE refused_field IS NULL{first}"
    )


def _counts(con: duckdb.DuckDBPyConnection, checked: str) -> tuple[int, int, bool]:
    counted = con.sql(_COUNTS.format(checked=checked)).fetchone()
    if counted is None:
        return 0, 0, False
    return int(counted[0]), int(counted[1]), int(counted[2]) > 0


# A line that is not UTF-8, or holds a NUL byte (PostgreSQL text cannot), is kept as
# base64; the value shown writes a NUL as \u0000.
_LETTERS = (
    "SELECT 'file-' || md5($path || chr(10) || idx || chr(10) || hex(raw)) "
    "AS dead_letter_id, $source AS source, 'event' AS kind, origin, "
    "$now::TIMESTAMP AS received_at, "
    "CASE WHEN line IS NULL OR contains(line, chr(0)) THEN base64(raw) ELSE line END "
    "AS payload, "
    "CASE WHEN line IS NULL OR contains(line, chr(0)) THEN 'base64' ELSE 'utf-8' END "
    "AS payload_encoding, "
    "refused_field AS field, replace(refused_value, chr(0), '\\u0000') AS value, "
    "refused_reason AS reason "
    "FROM {checked} WHERE refused_field IS NOT NULL ORDER BY idx"
)


@dataclass(frozen=True)
class _Chunk:
    """What one block of lines came to: lines, refused lines, events newly stored."""

    lines: int
    refused: int
    stored: int


class _Store:
    """Checks ``chunk`` and stores it: any warehouse through Ibis, via a scratch DuckDB."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self.con = duckdb.connect()

    def submit(self, query: str, params: dict[str, object]) -> Future[_Chunk]:
        """Check the registered ``chunk``; the future resolves once its rows are stored."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE checked AS {query}", {"now": params["now"]})
        lines, refused, repeats = _counts(self.con, "checked")
        accepted = self.con.sql(
            _accepted("checked", repeats), params={"loaded_at": params["loaded_at"]}
        ).to_arrow_table()
        stored = self.wh.append_new(EVENTS.name, accepted, ("message_id",)).written
        if refused:
            letters = self.con.sql(
                _LETTERS.format(checked="checked"), params=_letter_params(params)
            ).to_arrow_table()
            self.wh.append_new(DEAD_LETTERS.name, letters, ("dead_letter_id",))
        done: Future[_Chunk] = Future()
        done.set_result(_Chunk(lines, refused, stored))
        return done

    def close(self) -> None:
        self.con.close()


class _DuckDBStore(_Store):
    """A DuckDB warehouse checks and stores in its own engine: no rows leave it.

    Appending is single-threaded in DuckDB, so a writer thread appends one block while
    the next is checked on the other cores. Blocks are appended in order, and at most
    one waits, so each de-duplicates against everything before it.
    """

    def __init__(self, wh: Warehouse, con: duckdb.DuckDBPyConnection) -> None:
        # Cursors of their own: settings and scratch tables stay out of the caller's session.
        self.con = con.cursor()
        self.writer = con.cursor()
        self.writer.execute("SET TimeZone = 'UTC'")
        # The warehouse on the writer's cursor: it appends while self.con checks.
        self.wh = Warehouse(ibis.duckdb.from_connection(self.writer), wh.url, wh.schema_report)
        # Visible to both cursors (temp tables are not), and gone with the DETACH.
        self.scratch = f"omni_events_file_{uuid.uuid4().hex[:12]}"
        self.con.execute(f"ATTACH ':memory:' AS {self.scratch}")
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="events-file-append")
        self.previous: Future[_Chunk] | None = None
        self.blocks = 0

    def submit(self, query: str, params: dict[str, object]) -> Future[_Chunk]:
        self.blocks += 1
        checked = f"{self.scratch}.checked_{self.blocks}"
        self.con.execute(f"CREATE TABLE {checked} AS {query}", {"now": params["now"]})
        lines, refused, repeats = _counts(self.con, checked)
        if self.previous is not None:
            self.previous.result()
        self.previous = self.pool.submit(
            self._append, checked, _Chunk(lines, refused, 0), repeats, dict(params)
        )
        return self.previous

    def _append(
        self, checked: str, chunk: _Chunk, repeats: bool, params: dict[str, object]
    ) -> _Chunk:
        # The rows stay in DuckDB: the accepted ones are selected from the checked block
        # by the same statement that appends those not stored yet.
        accepted = _bound(_accepted(checked, repeats), {"loaded_at": params["loaded_at"]})
        stored = self.wh.append_new(EVENTS.name, self.wh.con.sql(accepted), ("message_id",))
        if chunk.refused:
            letters = _bound(_LETTERS.format(checked=checked), _letter_params(params))
            self.wh.append_new(DEAD_LETTERS.name, self.wh.con.sql(letters), ("dead_letter_id",))
        self.writer.execute(f"DROP TABLE {checked}")
        return _Chunk(chunk.lines, chunk.refused, stored.written)

    def close(self) -> None:
        # Errors surface through the futures; here only wait, so none is masked.
        self.pool.shutdown(wait=True)
        try:
            self.con.execute(f"DETACH {self.scratch}")
        finally:
            self.writer.close()
            self.con.close()


def _bound(sql: str, params: dict[str, object]) -> str:
    """``sql`` with its ``$name`` parameters written as literals (an Ibis query has none)."""
    return re.sub(r"\$(\w+)", lambda m: sge.convert(params[m.group(1)]).sql("duckdb"), sql)


def _letter_params(params: dict[str, object]) -> dict[str, object]:
    return {name: params[name] for name in ("path", "source", "now")}


def _store(wh: Warehouse) -> _Store:
    con = getattr(wh.con, "con", None)
    if wh.engine == "duckdb" and isinstance(con, duckdb.DuckDBPyConnection):
        return _DuckDBStore(wh, con)
    return _Store(wh)


def load_events_file(
    wh: Warehouse,
    path: Path,
    *,
    source: str,
    progress: Progress | None = None,
    limits: Limits | None = None,
    received_at: datetime | None = None,
) -> LoadResult:
    """Load ``path`` (``.jsonl``/``.ndjson``/``.json`` lines, ``.gz`` of those, ``.parquet``).

    Returns counts; refused lines are in ``dead_letters``, nothing is stored twice.
    """
    started = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise ValidationError("path", str(path), "an existing JSONL, JSONL.gz or Parquet file")
    limits = limits or Limits()
    now = received_at or datetime.now(UTC).replace(tzinfo=None)
    total = path.stat().st_size
    store = _store(wh)
    con = store.con
    con.execute("SET TimeZone = 'UTC'")
    query = check_query(limits, source, f"file {path.name}")
    lines = stored = duplicates = rejected = 0
    params: dict[str, object] = {"path": str(path.resolve()), "source": source, "now": now}
    outcomes: list[Future[_Chunk]] = []
    try:
        for lines_block, done in _blocks(con, path):
            chunk = _guarded(lines_block, limits)
            con.register("chunk", chunk)
            params["loaded_at"] = datetime.now(UTC).replace(tzinfo=None)
            outcomes.append(store.submit(query, params))
            con.unregister("chunk")
            if progress is not None:
                progress(STAGE, min(done, total), total)
        for outcome in (future.result() for future in outcomes):
            lines += outcome.lines
            stored += outcome.stored
            rejected += outcome.refused
            duplicates += outcome.lines - outcome.refused - outcome.stored
    finally:
        store.close()
    return LoadResult(
        str(path),
        source,
        lines,
        stored,
        duplicates,
        rejected,
        round(time.perf_counter() - started, 3),
    )
