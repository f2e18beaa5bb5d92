"""Reading CSV, JSONL and Parquet files into one shape: an Arrow table of text columns.

Every column is read as text so that nothing is guessed before the mapping says what a
column is (a leading zero in a loyalty card, a phone read as a float...). Each row
carries ``__row``, its 1-based position in the file, which becomes the dead letter's
origin. Lines that cannot even be read (bytes that are not in the file's encoding, a
CSV row with the wrong number of cells, a JSONL line that is not a JSON object) become
dead letters here; the rest of the file is still read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from omnichannel.errors import ValidationError
from omnichannel.ingest.deadletter import (
    NOT_A_JSON_OBJECT,
    NOT_IN_ENCODING,
    WRONG_CELL_COUNT,
    DeadLetter,
)

ROW = "__row"
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass
class RawRows:
    """A file's rows as text columns plus ``__row``, and the lines that could not be read."""

    table: pa.Table
    header: list[str]
    letters: list[DeadLetter] = field(default_factory=list)


def origin(path: str, row: int) -> str:
    return f"{path}:row {row}"


FORMATS = ("csv", "jsonl", "parquet")


def detect_format(path: Path, override: str | None = None) -> str:
    if override:
        if override not in FORMATS:
            raise ValidationError("format", override, f"one of {', '.join(FORMATS)}")
        return override
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise ValidationError(
            "format",
            path.suffix or path.name,
            f"a file ending in {', '.join(EXTENSIONS)} or --format csv|jsonl|parquet",
        )
    return fmt


def read_rows(
    path: Path,
    fmt: str,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    skip_rows: int = 0,
    source: str,
    kind: str,
) -> RawRows:
    """Read a whole file; see the module docstring for what becomes a dead letter."""
    if not path.is_file():
        raise ValidationError("file", str(path), "an existing, readable file")
    if fmt == "parquet":
        return _read_parquet(path)
    data = path.read_bytes()
    if fmt == "jsonl":
        return read_jsonl_bytes(data, str(path), encoding=encoding, source=source, kind=kind)
    if skip_rows:
        # Report titles above the header (Google Ads writes two) are not data.
        data = b"".join(data.splitlines(keepends=True)[skip_rows:])
    return read_csv_bytes(
        data, str(path), encoding=encoding, delimiter=delimiter, source=source, kind=kind
    )


def _text_table(columns: dict[str, list[Any]] | pa.Table, rows: list[int] | pa.Array) -> pa.Table:
    table = (
        columns
        if isinstance(columns, pa.Table)
        else pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})
    )
    return table.append_column(ROW, pa.array(rows, type=pa.int64()))


def _undecodable(
    line: bytes,
    exc: UnicodeDecodeError,
    *,
    encoding: str,
    source: str,
    kind: str,
    where: str,
    payload: bytes,
) -> DeadLetter:
    """The dead letter of a line that is not in the mapping's encoding, bytes kept as is."""
    bad = line[max(exc.start - 8, 0) : exc.end + 8]
    return DeadLetter(
        source=source,
        kind=kind,
        origin=where,
        payload=payload,
        field="encoding",
        value=repr(bad),
        reason=f"bytes that are not {encoding} ({exc.reason} at byte {exc.start}); "
        f"set `encoding:` in the mapping (e.g. gbk, gb18030, latin-1)",
        reason_code=NOT_IN_ENCODING,
    )


def _decode_lines(
    data: bytes, path: str, *, encoding: str, skip_header: bool, source: str, kind: str
) -> tuple[str, list[int], list[DeadLetter]]:
    """Decode a file, setting aside the lines that are not in the encoding.

    Returns the decodable text, the original row number of each kept data line (only
    when some were dropped; empty otherwise) and the dead letters.
    """
    try:
        return data.decode(encoding), [], []
    except UnicodeDecodeError:
        pass
    lines = data.splitlines(keepends=True)
    header = lines[0] if skip_header and lines else b""
    kept: list[str] = []
    rows: list[int] = []
    letters = []
    for number, line in enumerate(lines):
        try:
            kept.append(line.decode(encoding))
            if number or not skip_header:
                rows.append(number if skip_header else number + 1)
        except UnicodeDecodeError as exc:
            row = number if skip_header else number + 1
            # Header + line is a one-row file in itself, which is what replay re-reads.
            letters.append(
                _undecodable(
                    line,
                    exc,
                    encoding=encoding,
                    source=source,
                    kind=kind,
                    where=origin(path, row),
                    payload=(header + line) if number else line,
                )
            )
    return "".join(kept), rows, letters


def _parse_csv(
    text: str,
    *,
    header: list[str],
    delimiter: str,
    on_invalid: Callable[[pacsv.InvalidRow], str],
) -> pa.Table:
    """Every column as text; rows with the wrong number of cells go to ``on_invalid``."""
    return pacsv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        read_options=pacsv.ReadOptions(block_size=1 << 24),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header},
            strings_can_be_null=False,
            null_values=[],
        ),
    )


def read_csv_bytes(
    data: bytes, path: str, *, encoding: str = "utf-8", delimiter: str = ",", source: str, kind: str
) -> RawRows:
    text, rows, letters = _decode_lines(
        data, path, encoding=encoding, skip_header=True, source=source, kind=kind
    )
    text = text.removeprefix("\ufeff")  # Excel writes a byte-order mark before the header
    first_line = text.split("\n", 1)[0].rstrip("\r")
    try:
        raw_header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter), [])
    except csv.Error as exc:
        raise ValidationError("header", first_line[:80], f"a CSV header line ({exc})") from None
    # Exports pad names (FEBRL writes ", given_name"); a mapping names the trimmed column.
    header = [c.strip() for c in raw_header]
    if not header:
        raise ValidationError("file", path, "a CSV file with a header row")
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise ValidationError("header", duplicated, "a header naming each column once")
    malformed: list[tuple[int | None, str, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append((row.number, row.text, row.actual_columns))
        return "skip"

    try:
        table = _parse_csv(text, header=raw_header, delimiter=delimiter, on_invalid=on_invalid)
    except pa.ArrowInvalid as exc:
        # A quote never closed swallows the rest of the file: nothing row-sized to set aside.
        raise ValidationError(
            "file", path, f"CSV that can be read to its end ({exc}); check for an unclosed quote"
        ) from None
    if table.num_columns != len(header):
        # A quoted header cell running past the first line: pyarrow and the header disagree.
        raise ValidationError(
            "header",
            first_line[:80],
            f"a header on one line ({len(header)} cells on its first line, "
            f"{table.num_columns} columns read)",
        )
    table = table.rename_columns(header)
    # pyarrow cannot number rows when values may hold newlines; count records instead.
    bad_records = _records_with_wrong_cells(text, delimiter, len(header)) if malformed else []
    for index, (_, line_text, cells) in enumerate(malformed):
        record = bad_records[index] if index < len(bad_records) else 0
        row = (rows[record - 1] if rows and 0 < record <= len(rows) else record) or 0
        letters.append(
            DeadLetter(
                source=source,
                kind=kind,
                origin=origin(path, row),
                payload=first_line + "\n" + line_text,
                field="row",
                value=f"{cells} cells",
                reason=f"a row with {len(header)} cells like the header",
                reason_code=WRONG_CELL_COUNT,
            )
        )
    if malformed or rows:
        # Row numbers shift when lines were set aside; recount from what pyarrow kept.
        skipped = set(bad_records)
        base = rows or list(range(1, table.num_rows + len(malformed) + 1))
        numbers = [r for i, r in enumerate(base, start=1) if i not in skipped][: table.num_rows]
    else:
        numbers = list(range(1, table.num_rows + 1))
    return RawRows(_text_table(table, numbers), header, letters)


def _records_with_wrong_cells(text: str, delimiter: str, cells: int) -> list[int]:
    """1-based numbers of the data records (blank lines aside) whose cell count is off."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    out = []
    number = 0
    try:
        next(reader, None)
        for record in reader:
            if not record:
                continue
            number += 1
            if len(record) != cells:
                out.append(number)
    except csv.Error:
        pass  # what Python's reader cannot split keeps row 0 (origin unknown)
    return out


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, str | None]:
    flat: dict[str, str | None] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, ensure_ascii=False)
        elif value is None:
            flat[name] = None
        else:
            flat[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return flat


def read_jsonl_bytes(
    data: bytes, path: str, *, encoding: str = "utf-8", source: str, kind: str
) -> RawRows:
    """One JSON object per line; nested objects are flattened to dotted column names."""
    records: list[dict[str, str | None]] = []
    numbers: list[int] = []
    letters: list[DeadLetter] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode(encoding))
        except UnicodeDecodeError as exc:
            letters.append(
                _undecodable(
                    line,
                    exc,
                    encoding=encoding,
                    source=source,
                    kind=kind,
                    where=origin(path, number),
                    payload=line,
                )
            )
            continue
        except json.JSONDecodeError as exc:
            letters.append(
                DeadLetter(
                    source=source,
                    kind=kind,
                    origin=origin(path, number),
                    payload=line,
                    field="line",
                    value=line[:80].decode(encoding, "replace"),
                    reason=f"a JSON object ({exc.msg})",
                    reason_code=NOT_A_JSON_OBJECT,
                )
            )
            continue
        if not isinstance(record, dict):
            letters.append(
                DeadLetter(
                    source=source,
                    kind=kind,
                    origin=origin(path, number),
                    payload=line,
                    field="line",
                    value=type(record).__name__,
                    reason="a JSON object per line",
                    reason_code=NOT_A_JSON_OBJECT,
                )
            )
            continue
        records.append(_flatten(record))
        numbers.append(number)
    header = list(dict.fromkeys(k for r in records for k in r))
    columns = {c: [r.get(c) for r in records] for c in header}
    trimmed = [c.strip() for c in header]
    if len(set(trimmed)) != len(trimmed):
        raise ValidationError(
            "keys", sorted({c for c in trimmed if trimmed.count(c) > 1}), "keys named once"
        )
    columns = {c.strip(): v for c, v in columns.items()}
    header = trimmed
    return RawRows(_text_table(columns, numbers), header, letters)


def _read_parquet(path: Path) -> RawRows:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(
            "file",
            str(path),
            f"a Parquet file ({exc}); for a CSV or JSONL file drop --format parquet or pass "
            "--format csv|jsonl",
        ) from None
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        try:
            columns[name] = column.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # Nested values have no text cast; JSON is how a mapping can still reach them.
            columns[name] = pa.array(
                [
                    None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                    for v in column.to_pylist()
                ],
                type=pa.string(),
            )
    names = [c.strip() for c in table.column_names]
    if len(set(names)) != len(names):
        raise ValidationError(
            "columns", sorted({c for c in names if names.count(c) > 1}), "columns named once"
        )
    text = pa.table({n: columns[c] for n, c in zip(names, table.column_names, strict=True)})
    return RawRows(_text_table(text, list(range(1, table.num_rows + 1))), names)
