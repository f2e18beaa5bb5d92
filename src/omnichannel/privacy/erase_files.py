"""Erasure from the files of a home: the event log, source exports, archives, artefacts.

Every file under the home is read (the two stores' own files excepted: their rows are
erased through SQL and the files compacted). What happens to a file that names the
person depends on what it is:

- **event log segments** (``*.log`` beside a ``checkpoint.json``): each record naming
  them is rewritten without their events and dead letters, padded with spaces to its old
  length and re-checksummed, so every offset (and the loader's checkpoint) stays valid;
- **CSV, JSON lines** (also gzip-compressed) and **Parquet**: rewritten without the rows
  that name them;
- **zip archives** (an earlier export of the person) and any other file naming them
  (a model artefact, a text file): removed, and listed in the receipt, so a model built
  on their data is known to need retraining.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from omnichannel.ingest.log import HEADER, scan
from omnichannel.privacy.matching import Matcher

# The stores' own files (erased through SQL), locks and keys.
_STORE_SUFFIXES = (".duckdb", ".duckdb.wal", ".sqlite", ".sqlite-wal", ".sqlite-shm", ".key")
_SKIPPED_NAMES = frozenset({"LOCK", "checkpoint.json", "server.json"})


def home_files(home: Path) -> Iterator[Path]:
    """Every file of the home that erasure reads (not the stores', locks or keys)."""
    for root, _, files in os.walk(home):
        for name in sorted(files):
            path = Path(root) / name
            if name in _SKIPPED_NAMES or name.endswith(_STORE_SUFFIXES):
                continue
            yield path


def erase_files(home: Path, matcher: Matcher) -> dict[str, list[str]]:
    """Rewrite or remove every file of ``home`` naming the person; what was done to which."""
    done: dict[str, list[str]] = {"rewritten": [], "removed": []}
    if matcher.empty:
        return done
    for path in home_files(home):
        try:
            outcome = _erase_file(path, matcher)
        except (OSError, ValueError, pa.ArrowException, zipfile.BadZipFile, EOFError):
            outcome = "removed" if _remove_if_named(path, matcher) else None
        if outcome:
            done[outcome].append(str(path.relative_to(home)))
    return done


def _erase_file(path: Path, matcher: Matcher) -> str | None:
    name = path.name
    if name.endswith(".log") and (path.parent / "checkpoint.json").exists():
        return "rewritten" if _scrub_log_segment(path, matcher) else None
    if name.endswith(".gz"):
        raw = gzip.decompress(path.read_bytes())
        inner = _filtered(name[:-3], raw, matcher)
        if inner is None:
            return None
        _replace(path, gzip.compress(inner))
        return "rewritten"
    if name.endswith(".parquet"):
        return "rewritten" if _scrub_parquet(path, matcher) else None
    if name.endswith(".zip"):
        return "removed" if _remove_zip_if_named(path, matcher) else None
    data = path.read_bytes()
    filtered = _filtered(name, data, matcher)
    if filtered is not None:
        _replace(path, filtered)
        return "rewritten"
    if not name.endswith((".csv", ".jsonl", ".ndjson")) and _remove_if_named(path, matcher):
        return "removed"
    return None


def _filtered(name: str, data: bytes, matcher: Matcher) -> bytes | None:
    """``data`` without the rows naming the person, or None if none does / not a row file."""
    if not name.endswith((".csv", ".jsonl", ".ndjson")):
        return None
    if not matcher.names(data.decode("utf-8", "replace")):
        return None
    text = data.decode("utf-8")
    if name.endswith(".csv"):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        kept = [r for r in rows if not any(matcher.names(cell) for cell in r)]
        if len(kept) == len(rows):
            return None
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(kept)
        return out.getvalue().encode("utf-8")
    lines = text.splitlines(keepends=True)
    kept_lines = [line for line in lines if not matcher.names(line)]
    if len(kept_lines) == len(lines):
        return None
    return "".join(kept_lines).encode("utf-8")


def _scrub_parquet(path: Path, matcher: Matcher) -> bool:
    table = pq.read_table(path)
    texts = [f.name for f in table.schema if pa.types.is_string(f.type)]
    if not texts:
        return False
    named = pa.array([False] * table.num_rows)
    for column in texts:
        values = table.column(column).to_pylist()
        hits = pa.array([bool(v) and matcher.names(v) for v in values])
        named = pc.or_(named, hits)
    if not pc.any(named).as_py():
        return False
    kept = table.filter(pc.invert(named))
    buffer = io.BytesIO()
    pq.write_table(kept, buffer)
    _replace(path, buffer.getvalue())
    return True


def _remove_zip_if_named(path: Path, matcher: Matcher) -> bool:
    with zipfile.ZipFile(path) as archive:
        named = any(matcher.names_bytes(archive.read(m)) for m in archive.namelist())
    if named:
        path.unlink()
    return named


def _remove_if_named(path: Path, matcher: Matcher) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if matcher.names_bytes(data) or matcher.names(data.decode("utf-8", "replace")):
        path.unlink()
        return True
    return False


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, keeping its mode."""
    side = path.with_name(path.name + ".erasing")
    side.write_bytes(data)
    os.chmod(side, path.stat().st_mode & 0o777)
    os.replace(side, path)


def names_record(payload: bytes, matcher: Matcher) -> bool:
    """Whether a log or bus record (one collector request) names the person."""
    return matcher.names_bytes(payload) or matcher.names(payload.decode("utf-8", "replace"))


def scrubbed_record(payload: bytes, matcher: Matcher) -> dict[str, Any]:
    """The record without the person's events and dead letters (never longer dumped)."""
    record: dict[str, Any] = orjson.loads(payload)
    for part in ("events", "dead_letters"):
        rows = record.get(part) or []
        record[part] = [r for r in rows if not matcher.names(json.dumps(r, default=str))]
    return record


def _scrub_log_segment(path: Path, matcher: Matcher) -> bool:
    """Rewrite the records of one log segment that name the person, in place."""
    with open(path, "r+b") as segment:
        data = segment.read()
        changed = False
        for position, end, payload in list(scan(data)):
            if not names_record(payload, matcher):
                continue
            new = orjson.dumps(scrubbed_record(payload, matcher))
            if len(new) > len(payload):  # cannot happen: rows were only removed
                raise ValueError(f"{path}: a scrubbed record grew")
            new += b" " * (len(payload) - len(new))
            length = len(new).to_bytes(4, "little")
            magic = HEADER.unpack_from(data, position)[0]
            frame = HEADER.pack(magic, len(new), zlib.crc32(new, zlib.crc32(length))) + new
            assert len(frame) == end - position
            segment.seek(position)
            segment.write(frame)
            changed = True
        if changed:
            segment.flush()
            os.fsync(segment.fileno())
    return changed
