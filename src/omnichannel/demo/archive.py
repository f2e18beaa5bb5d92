"""The event stream as its sources would hand it over: Segment-spec JSON, one call per line.

History goes to a Segment-style archive (gzip'd JSONL per source, each call with the
``receivedAt``/``sentAt`` the platform recorded, as Segment's S3 and warehouse exports
carry them); the live slice is sent to the collector as Tracking API calls, which carry
neither, because the collector stamps the receipt itself.

Lines are built column-at-a-time from rendered ``events`` rows, so the JSON holds exactly
what the warehouse should end up holding once the ingestion path has read it back.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# A fast gzip level: the archive is written once and read once, on the same machine.
GZIP_LEVEL = 1


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _member(name: str, values: pa.Array, *, quoted: bool = True) -> pa.Array:
    """``,"name":"value"`` where the value is present, else the empty string."""
    quote = '"' if quoted else ""
    return pc.fill_null(_join(f',"{name}":{quote}', values, quote), "")


def _iso(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """ISO-8601 UTC with milliseconds (numpy formats ten times faster than Arrow here)."""
    moments = values.to_numpy().astype("datetime64[ms]")
    return pa.array(np.char.add(np.datetime_as_string(moments, unit="ms"), "Z"), pa.string())


def segment_calls(events: pa.Table, *, archived: bool) -> pa.Array:
    """One Segment-spec JSON document per ``events`` row (camelCase, nested documents).

    ``archived`` adds the platform's ``originalTimestamp``, ``sentAt`` and ``receivedAt``
    (an archive line); without it the call is what an SDK sends to the collector.
    """
    col = events.column
    times: list[pa.Array | str] = [',"timestamp":"', _iso(col("timestamp")), '"']
    if archived:
        times += [
            ',"originalTimestamp":"',
            _iso(col("original_timestamp")),
            '","sentAt":"',
            _iso(col("sent_at")),
            '","receivedAt":"',
            _iso(col("received_at")),
            '"',
        ]
    calls = _join(
        '{"messageId":"',
        col("message_id"),
        '","type":"',
        col("type"),
        '"',
        _member("event", col("event")),
        _member("name", col("name")),
        _member("userId", col("user_id")),
        _member("anonymousId", col("anonymous_id")),
        ',"channel":"',
        col("channel"),
        '"',
        *times,
        ',"context":',
        col("context"),
        _member("properties", col("properties"), quoted=False),
        _member("traits", col("traits"), quoted=False),
        "}",
    )
    return calls.combine_chunks() if isinstance(calls, pa.ChunkedArray) else calls


@dataclass
class ArchiveWriter:
    """Appends calls to ``<directory>/<source>.jsonl.gz``, one file per source system."""

    directory: Path
    lines: dict[str, int] = field(default_factory=dict)
    planted: dict[str, int] = field(default_factory=dict)
    _files: dict[str, gzip.GzipFile] = field(default_factory=dict)

    def path(self, source: str) -> Path:
        return self.directory / f"{source}.jsonl.gz"

    def write(self, events: pa.Table, extra: dict[str, list[str]] | None = None) -> None:
        """Archive ``events`` (split by their ``source``), plus raw ``extra`` lines per source."""
        calls = segment_calls(events, archived=True)
        sources = events.column("source").combine_chunks()
        for source in pc.unique(sources).to_pylist():
            picked = calls.filter(pc.equal(sources, source))
            self._append(source, picked.to_numpy(zero_copy_only=False))
        for source, lines in (extra or {}).items():
            self._append(source, np.array(lines, dtype=object))
            self.planted[source] = self.planted.get(source, 0) + len(lines)

    def _append(self, source: str, lines: np.ndarray) -> None:
        if source not in self._files:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Open across calls (one file per source, written chunk by chunk); closed in close().
            handle = gzip.GzipFile(self.path(source), "wb", compresslevel=GZIP_LEVEL)
            self._files[source] = handle
        if len(lines):
            self._files[source].write(("\n".join(lines) + "\n").encode("utf-8"))
        self.lines[source] = self.lines.get(source, 0) + len(lines)

    def close(self) -> list[Path]:
        for handle in self._files.values():
            handle.close()
        return [self.path(s) for s in sorted(self._files)]


# One webhook call with a Unix-time ``timestamp`` per this many email and SMS events.
EPOCH_TIMESTAMP_EVERY = 2_000
WEBHOOK_SOURCES = ("email", "sms")


def epoch_timestamp_lines(events: pa.Table) -> dict[str, list[str]]:
    """Planted bad lines: the ESP and SMS webhooks resending a call with a Unix timestamp.

    Segment's spec wants ISO-8601 text, so the loader refuses them (dead letters).
    """
    sources = events.column("source").combine_chunks()
    webhook = np.flatnonzero(pc.is_in(sources, pa.array(WEBHOOK_SOURCES)).to_numpy(False))
    picked = events.take(pa.array(webhook[::EPOCH_TIMESTAMP_EVERY], pa.int64()))
    out: dict[str, list[str]] = {}
    if not picked.num_rows:
        return out
    epoch = picked.column("timestamp").cast(pa.int64()).to_numpy() // 1_000
    calls = segment_calls(picked, archived=True).to_pylist()
    for source, call, seconds in zip(
        picked.column("source").to_pylist(), calls, epoch.tolist(), strict=True
    ):
        head, _, rest = call.partition(',"timestamp":"')
        _, _, tail = rest.partition('"')
        # A new messageId too: it is a resend, not a duplicate of the stored call.
        call = (head + f',"timestamp":{seconds}' + tail).replace('","type"', '-resent","type"', 1)
        out.setdefault(source, []).append(call)
    return out
