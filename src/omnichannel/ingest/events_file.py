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
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.errors import ValidationError
from omnichannel.ingest.loader import store_new
from omnichannel.ingest.segment import CONTEXT_COLUMNS, EVENT_TYPES, Limits
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.tables import DEAD_LETTERS, EVENTS

Progress = Callable[[str, int, int], None]
CHUNK_BYTES = 64 * 1024 * 1024
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


# Extracted once per line (json_extract with a list parses each document once).
_PATHS = [
    "type",
    "userId",
    "anonymousId",
    "previousId",
    "groupId",
    "event",
    "name",
    "properties",
    "traits",
    "context",
    "messageId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "channel",
    "context.library.name",
]
_FLAT = list(CONTEXT_COLUMNS)
_ALL = _PATHS + [f"context.{'.'.join(path)}" for path in CONTEXT_COLUMNS.values()]
_IX = {name: i + 1 for i, name in enumerate(_PATHS)}


def _v(name: str) -> str:
    return f"v[{_IX[name]}]"


def _t(name: str) -> str:
    """The JSON type of a field ('NULL' when absent), computed once per line."""
    return f"t{_IX[name]}"


def _s(name: str) -> str:
    """A field as text (numbers as their digits), computed once per line."""
    return f"s{_IX[name]}"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_ID_TYPES = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')"
_TYPES = ", ".join(EVENT_TYPES)
_TS_ACCEPTED = "expected an ISO-8601 timestamp string, e.g. 2024-05-01T12:00:00.000Z"


_TIMES = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")


def _ts(name: str) -> str:
    return f"ts_{name}"


def _bad_ts(name: str) -> str:
    return (
        f"({_t(name)} NOT IN ('VARCHAR', 'NULL') OR "
        f"({_t(name)} = 'VARCHAR' AND {_ts(name)} IS NULL))"
    )


def _rules(limits: Limits) -> list[tuple[str, str, str, str]]:
    """(condition, field, value SQL, reason) in the collector's order; first match wins."""
    doc = 'expected a JSON object, e.g. {"plan": "pro"}'
    rules = [
        ("line IS NULL", "(line)", "'invalid UTF-8'", "expected UTF-8 encoded JSON"),
        ("j IS NULL", "(line)", "left(line, 200)", "expected a valid JSON document"),
        (
            f"octet_length(raw) > {limits.max_event_bytes}",
            "(call)",
            "octet_length(raw) || ' bytes'",
            f"expected at most {limits.max_event_bytes // 1024} KB per call",
        ),
        (
            "json_type(j) <> 'OBJECT'",
            "(call)",
            "left(line, 200)",
            "expected a JSON object with at least type and userId/anonymousId",
        ),
        (
            f"{_t('type')} <> 'VARCHAR' OR lower({_s('type')}) NOT IN "
            f"({', '.join(_lit(t) for t in EVENT_TYPES)})",
            "type",
            f"coalesce({_v('type')}::VARCHAR, '(missing)')",
            f"expected one of {_TYPES}",
        ),
    ]
    for name in ("userId", "anonymousId"):
        rules.append(
            (
                f"{_t(name)} NOT IN {_ID_TYPES}",
                name,
                f"{_v(name)}::VARCHAR",
                "expected a string (or a number, stored as text)",
            )
        )
    rules.append(
        (
            f"coalesce(trim({_s('userId')}), '') = '' AND "
            f"coalesce(trim({_s('anonymousId')}), '') = ''",
            "userId",
            f"coalesce({_v('userId')}::VARCHAR, '(missing)')",
            "expected a userId or an anonymousId (every call needs one of the two)",
        )
    )
    for name in ("previousId", "groupId"):
        rules.append(
            (
                f"{_t(name)} NOT IN {_ID_TYPES}",
                name,
                f"{_v(name)}::VARCHAR",
                "expected a string (or a number, stored as text)",
            )
        )
    for name in ("event", "name"):
        rules.append(
            (
                f"{_t(name)} NOT IN ('VARCHAR', 'NULL')",
                name,
                f"{_v(name)}::VARCHAR",
                "expected a string",
            )
        )
    rules += [
        (
            f"lower({_s('type')}) = 'track' AND coalesce({_s('event')}, '') = ''",
            "event",
            f"coalesce({_v('event')}::VARCHAR, '(missing)')",
            'expected a non-empty string naming the action, e.g. "Order Completed"',
        ),
        (
            f"lower({_s('type')}) = 'alias' AND {_s('previousId')} IS NULL",
            "previousId",
            "'(missing)'",
            "expected the id this user was known by before (alias needs previousId)",
        ),
        (
            f"lower({_s('type')}) = 'group' AND {_s('groupId')} IS NULL",
            "groupId",
            "'(missing)'",
            "expected the group's id (group needs groupId)",
        ),
    ]
    for name in ("properties", "traits", "context"):
        rules.append((f"{_t(name)} NOT IN ('OBJECT', 'NULL')", name, f"{_v(name)}::VARCHAR", doc))
    rules.append(
        (
            f"{_t('messageId')} NOT IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'NULL')",
            "messageId",
            f"{_v('messageId')}::VARCHAR",
            "expected a string unique to this call",
        )
    )
    for name in ("timestamp", "originalTimestamp", "sentAt", "receivedAt"):
        rules.append((_bad_ts(name), name, f"{_v(name)}::VARCHAR", _TS_ACCEPTED))
    future = int(limits.max_future.total_seconds() * 1_000_000)
    past = int(limits.max_age.total_seconds() * 1_000_000)
    rules += [
        (
            f"ts > received_at + to_microseconds({future})",
            "timestamp",
            "strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ')",
            f"expected a time no later than {_span(limits)[0]} after receipt; the sender's "
            "clock or timestamp is wrong",
        ),
        (
            f"ts < received_at - to_microseconds({past})",
            "timestamp",
            "strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ')",
            f"expected a time no earlier than {_span(limits)[1]} before receipt",
        ),
    ]
    return rules


def _span(limits: Limits) -> tuple[str, str]:
    from omnichannel.ingest.segment import _span as span

    return span(limits.max_future), span(limits.max_age)


def _query(limits: Limits, source: str, origin: str) -> str:
    """One SELECT turning ``chunk(idx, raw)`` into events columns plus a refusal, if any."""
    rules = _rules(limits)
    # The first failing rule's number, evaluated once; field, value and reason follow from it.
    rule = (
        "CASE " + " ".join(f"WHEN {c} THEN {n}" for n, (c, _, _, _) in enumerate(rules, 1)) + " END"
    )
    field = "[" + ", ".join(_lit(f) for _, f, _, _ in rules) + "][rule]"
    value = (
        "CASE rule "
        + " ".join(f"WHEN {n} THEN {v}" for n, (_, _, v, _) in enumerate(rules, 1))
        + " END"
    )
    reason = "[" + ", ".join(_lit(r) for _, _, _, r in rules) + "][rule]"
    typed = ", ".join(
        f"coalesce(json_type(v[{i}]), 'NULL') AS t{i}, v[{i}] ->> '$' AS s{i}"
        for i in range(1, len(_PATHS) + 1)
    )
    times = ", ".join(
        f"CASE WHEN {_t(n)} = 'VARCHAR' THEN timezone('UTC', "
        f"TRY_CAST({_s(n)} AS TIMESTAMPTZ)) END AS {_ts(n)}"
        for n in _TIMES
    )
    paths = "[" + ", ".join(_lit("$." + p) for p in _ALL) + "]"
    flat = ", ".join(
        f"CASE WHEN json_type(v[{len(_PATHS) + i + 1}]) IN ('OBJECT', 'ARRAY') THEN NULL "
        f"ELSE v[{len(_PATHS) + i + 1}] ->> '$' END AS {column}"
        for i, column in enumerate(_FLAT)
    )
    src = _lit(source)
    return f"""
    WITH decoded AS (
        SELECT idx, raw, rtrim(try(decode(raw)), chr(13)) AS line FROM chunk
        WHERE octet_length(raw) > 0 AND raw <> '\r'::BLOB
    ), parsed AS (
        SELECT *, TRY_CAST(line AS JSON) AS j FROM decoded
    ), fields AS (
        SELECT *, CASE WHEN json_type(j) = 'OBJECT' THEN json_extract(j, {paths}) END AS v
        FROM parsed
    ), typed AS (
        SELECT *, {typed} FROM fields
    ), stamped AS (
        SELECT *, {times} FROM typed
    ), timed AS (
        SELECT *,
            coalesce({_ts("receivedAt")}, $now) AS received_at,
            coalesce({_ts("originalTimestamp")}, {_ts("timestamp")}) AS original,
            {_ts("sentAt")} AS sent
        FROM stamped
    ), corrected AS (
        SELECT *,
            CASE WHEN {_ts("originalTimestamp")} IS NOT NULL AND {_ts("timestamp")} IS NOT NULL
                     THEN {_ts("timestamp")}
                 WHEN original IS NOT NULL AND sent IS NOT NULL
                     THEN original + (received_at - sent)
                 ELSE coalesce(original, received_at) END AS ts
        FROM timed
    ), judged AS (
        SELECT *, {rule} AS rule FROM corrected
    )
    SELECT idx, raw, line,
        {field} AS refused_field, {value} AS refused_value, {reason} AS refused_reason,
        coalesce(nullif({_s("messageId")}, ''),
                 'omni-' || md5({src} || chr(10) || coalesce(line, ''))) AS message_id,
        lower({_s("type")}) AS type, {_s("event")} AS event,
        nullif({_s("userId")}, '') AS user_id, nullif({_s("anonymousId")}, '') AS anonymous_id,
        {_s("previousId")} AS previous_id, {_s("groupId")} AS group_id, {_s("name")} AS name,
        ts AS timestamp, original AS original_timestamp, sent AS sent_at, received_at,
        {src} AS source,
        coalesce({_s("channel")}, CASE
            WHEN {_s("context.library.name")} IN ('analytics.js', 'analytics-next',
                 'analytics-js', 'rudder-analytics.js') THEN 'browser'
            WHEN {_s("context.library.name")} IN ('analytics-ios', 'analytics-android',
                 'analytics-react-native', 'flutter') THEN 'mobile'
            ELSE 'server' END) AS channel,
        {flat},
        {_v("context")}::VARCHAR AS context, {_v("properties")}::VARCHAR AS properties,
        {_v("traits")}::VARCHAR AS traits,
        {_lit(origin)} || ' line ' || idx AS origin
    FROM judged
    """


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
    raw = pc.list_flatten(pc.split_pattern(pa.array([block], pa.binary()), pattern=b"\n"))
    if len(raw) and block.endswith(b"\n"):
        raw = raw.slice(0, len(raw) - 1)
    table = pa.table({"idx": pa.array(range(first, first + len(raw)), pa.int64()), "raw": raw})
    # Many record batches, so DuckDB scans them on all cores.
    return pa.Table.from_batches(table.to_batches(max_chunksize=16_384))


def _parquet_lines(con: duckdb.DuckDBPyConnection, path: Path) -> pa.Table:
    return con.sql(
        "SELECT row_number() OVER () AS idx, encode(to_json(t)::VARCHAR) AS raw "
        "FROM read_parquet($path) t",
        params={"path": str(path)},
    ).to_arrow_table()


def _blocks(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[tuple[pa.Table, int]]:
    """(lines table, bytes read so far) per block."""
    if path.suffix == ".parquet":
        yield _parquet_lines(con, path), path.stat().st_size
        return
    first = 1
    with open(path, "rb") as raw:
        handle = cast(IO[bytes], gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw)
        for block in _chunks(handle):
            lines = _lines(block, first)
            first += lines.num_rows
            yield lines, raw.tell()


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
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    query = _query(limits, source, f"file {path.name}")
    lines = stored = duplicates = rejected = 0
    events_columns = ", ".join(f'"{name}"' for name in EVENTS.schema.names if name != "loaded_at")
    try:
        for chunk, done in _blocks(con, path):
            con.register("chunk", chunk)
            con.execute(f"CREATE OR REPLACE TEMP TABLE checked AS {query}", {"now": now})
            con.unregister("chunk")
            accepted = con.sql(
                f"SELECT {events_columns}, $now::TIMESTAMP AS loaded_at FROM checked "
                "WHERE refused_field IS NULL "
                "QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY idx) = 1",
                params={"now": datetime.now(UTC).replace(tzinfo=None)},
            ).to_arrow_table()
            in_chunk = con.sql("SELECT count(*) FROM checked").fetchone()
            letters = con.sql(
                "SELECT 'file-' || md5($path || chr(10) || idx || chr(10) || hex(raw)) "
                "AS dead_letter_id, $source AS source, 'event' AS kind, origin, "
                "$now::TIMESTAMP AS received_at, "
                "coalesce(line, base64(raw)) AS payload, "
                "CASE WHEN line IS NULL THEN 'base64' ELSE 'utf-8' END AS payload_encoding, "
                "refused_field AS field, refused_value AS value, refused_reason AS reason "
                "FROM checked WHERE refused_field IS NOT NULL ORDER BY idx",
                params={"path": str(path.resolve()), "source": source, "now": now},
            ).to_arrow_table()
            new = store_new(wh, EVENTS.name, accepted, "message_id")
            store_new(wh, DEAD_LETTERS.name, letters, "dead_letter_id")
            count = int(in_chunk[0]) if in_chunk else 0
            lines += count
            stored += new.num_rows
            rejected += letters.num_rows
            duplicates += count - letters.num_rows - new.num_rows
            if progress is not None:
                progress(STAGE, min(done, total), total)
    finally:
        con.close()
    return LoadResult(
        str(path),
        source,
        lines,
        stored,
        duplicates,
        rejected,
        round(time.perf_counter() - started, 3),
    )
