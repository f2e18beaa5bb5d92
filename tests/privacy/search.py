"""An independent search of a home for any of one person's identifiers.

It shares nothing with the erasure code: every table of both stores is read whole (each
column as text) and every file of the home is read as what it is (text, gzip, zip
members, Parquet) and as raw bytes, the stores' own files included.
"""

from __future__ import annotations

import gzip
import io
import sqlite3
import zipfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq


def needles(identifiers: list[str], names: list[str]) -> list[str]:
    """The strings to look for: every identifier value (after its ``type:``) and name."""
    values = {i.partition(":")[2] for i in identifiers} | set(names)
    # Values of 6+ characters: a 4-character code would be found inside anything.
    return sorted(v.lower() for v in values if len(v) >= 6)


def _hits(text: str, wanted: list[str]) -> list[str]:
    lowered = text.lower()
    return [w for w in wanted if w in lowered]


def search_duckdb(path: Path, wanted: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        for (table,) in con.execute("SHOW TABLES").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                hits = _hits(" ".join(str(v) for v in row), wanted)
                if hits:
                    found.setdefault(table, []).extend(hits)
    finally:
        con.close()
    return found


def search_sqlite(path: Path, wanted: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                hits = _hits(" ".join(str(v) for v in row), wanted)
                if hits:
                    found.setdefault(table, []).extend(hits)
    finally:
        con.close()
    return found


def _readable(path: Path, data: bytes) -> str:
    name = path.name
    if name.endswith(".gz"):
        return gzip.decompress(data).decode("utf-8", "replace")
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(m).decode("utf-8", "replace") for m in archive.namelist())
    if name.endswith(".parquet"):
        return str(pq.read_table(io.BytesIO(data)).to_pylist())
    return data.decode("utf-8", "replace")


def search_files(home: Path, wanted: list[str]) -> dict[str, list[str]]:
    """Every file under ``home`` (stores included, as bytes) naming any wanted value."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits = set(_hits(data.decode("latin-1"), wanted)) | set(
            _hits(_readable(path, data), wanted)
        )
        if hits:
            found[str(path.relative_to(home))] = sorted(hits)
    return found
