"""File connectors: a file plus its source's mapping in, canonical rows and dead letters out.

Example::

    report = ingest_file(wh, Path("orders_export.csv"), kind="orders", source="shopify",
                         mapping=load_mapping("shopify-orders"))
    report.written       # {"orders": 120, "order_lines": 310, "identifiers": 118, ...}
    report.rejected      # rows now in dead_letters, each with field, value and reason

The work is columnar: one DuckDB query normalises every mapped field of every row
(``normalize``), masks of unreadable values pick the rejected rows (only those are
turned into Python objects, as dead letters), ``assemble`` builds each target table,
and ``store`` writes each record as its current version (new, newer or older than the
stored one; see ``writer``), so loading the same file twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.errors import ValidationError
from omnichannel.ingest.assemble import ASSEMBLERS, Context
from omnichannel.ingest.deadletter import DeadLetter, reject
from omnichannel.ingest.mapping import Mapping, MappingError, check_source_name, identity_mapping
from omnichannel.ingest.normalize import (
    literal,
    parse_sql,
    quote,
    register_udfs,
    text_sql,
)
from omnichannel.ingest.readers import ROW, RawRows, detect_format, origin, read_rows
from omnichannel.ingest.segment import Limits
from omnichannel.ingest.validate import specs, validate
from omnichannel.ingest.writer import new_letters, store
from omnichannel.warehouse import Warehouse

Progress = Callable[[str, int, int], None]


class ErasedCheck(Protocol):
    """The suppression list of erased people (``privacy/suppression.py``)."""

    def hashes(self) -> frozenset[str]: ...

    def is_erased(self, id_type: str, id_value: str) -> bool: ...


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class LoadResult:
    """What one load did: rows written and already stored per table, and the refused rows."""

    rows: int
    written: dict[str, int] = field(default_factory=dict)
    already_stored: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    older: dict[str, int] = field(default_factory=dict)
    letters: list[DeadLetter] = field(default_factory=list)
    rejected_rows: dict[int, DeadLetter] = field(default_factory=dict)
    # Rows stored with some field nulled (``on_invalid: null``), with a letter per field.
    flagged_rows: dict[int, list[DeadLetter]] = field(default_factory=dict)
    # Rows naming an erased person: dropped, neither stored nor kept as dead letters.
    erased: int = 0


@dataclass
class IngestReport:
    """The outcome of ``omni ingest``: what was read, written, skipped and rejected."""

    path: str
    source: str
    kind: str
    mapping: str
    rows: int
    rejected: int
    written: dict[str, int]
    already_stored: dict[str, int]
    # Values stored as NULL in accepted rows (``on_invalid: null``), each a dead letter.
    fields_nulled: int = 0
    # Of ``written``: rows that replaced an older version of their record.
    updated: dict[str, int] = field(default_factory=dict)
    # Of ``already_stored``: versions older than the stored one, kept in record_history.
    older: dict[str, int] = field(default_factory=dict)
    # Rows dropped because they name an erased person (docs/privacy.md, suppression).
    erased: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source": self.source,
            "kind": self.kind,
            "mapping": self.mapping,
            "rows": self.rows,
            "rejected": self.rejected,
            "fields_nulled": self.fields_nulled,
            "written": self.written,
            "already_stored": self.already_stored,
            "updated": self.updated,
            "older": self.older,
            "erased": self.erased,
        }


def ingest_file(
    wh: Warehouse,
    path: Path,
    *,
    kind: str,
    source: str,
    mapping: Mapping | None = None,
    fmt: str | None = None,
    region: str = "CN",
    currency: str = "CNY",
    progress: Progress | None = None,
    limits: Limits | None = None,
    erased: ErasedCheck | None = None,
) -> IngestReport:
    """Load one file into the warehouse; refused rows go to ``dead_letters``; rows naming
    a person on the ``erased`` suppression list are dropped and counted."""
    progress = progress or _no_progress
    check_source_name(source)
    if kind == "events":
        return _ingest_events(wh, path, source=source, progress=progress)
    if mapping is not None and mapping.kind.name != kind:
        raise MappingError(
            "kind",
            mapping.kind.name,
            f"the kind given on the command line ({kind}), or --kind {mapping.kind.name}",
        )
    file_format = detect_format(path, fmt or (mapping.format if mapping else None))
    progress(f"read {path.name}", 0, 1)
    raw = read_rows(
        path,
        file_format,
        encoding=mapping.encoding if mapping else "utf-8",
        delimiter=mapping.delimiter if mapping else ",",
        skip_rows=mapping.skip_rows if mapping else 0,
        source=source,
        kind=kind,
    )
    progress(f"read {path.name}", 1, 1)
    mapping = mapping or identity_mapping(kind, raw.header)
    check_columns(mapping, raw.header, str(path))
    result = load_rows(
        wh,
        raw,
        mapping,
        source=source,
        region=region,
        currency=currency,
        origin_of=lambda row: origin(str(path), row),
        progress=progress,
        limits=limits,
        erased=erased,
    )
    letters = raw.letters + result.letters
    stored = reject(wh, new_letters(wh, letters))
    flagged = sum(len(f) for f in result.flagged_rows.values())
    return IngestReport(
        path=str(path),
        source=source,
        kind=kind,
        mapping=mapping.name,
        rows=raw.table.num_rows + len(raw.letters),
        rejected=len(letters) - flagged,
        fields_nulled=flagged,
        written={**result.written, "dead_letters": stored},
        already_stored={**result.already_stored, "dead_letters": len(letters) - stored},
        updated=result.updated,
        older=result.older,
        erased=result.erased,
    )


def _ingest_events(wh: Warehouse, path: Path, *, source: str, progress: Progress) -> IngestReport:
    """Segment-spec JSONL belongs to the collector; hand it over (imported lazily)."""
    try:
        from omnichannel.ingest.events_file import load_events_file
    except ImportError as exc:
        raise ValidationError(
            "kind",
            "events",
            "a kind other than events: the Segment "
            f"collector's file loader is not installed ({exc})",
        ) from None
    outcome = load_events_file(wh, path, source=source, progress=progress)
    return IngestReport(
        path=str(path),
        source=source,
        kind="events",
        mapping="segment-spec",
        rows=outcome.lines,
        rejected=outcome.rejected,
        written={"events": outcome.events_stored},
        already_stored={"events": outcome.duplicates},
    )


def check_columns(mapping: Mapping, header: list[str], where: str) -> None:
    """Every column the mapping names must be in the file, before anything is loaded."""
    present = set(header)
    missing = [(path, column) for path, column in mapping.columns() if column not in present]
    if missing:
        columns = list(dict.fromkeys(column for _, column in missing))
        raise MappingError(
            ", ".join(path for path, _ in missing),
            ", ".join(columns),
            f"columns of {where}; the mapping {mapping.name!r} names "
            f"{', '.join(repr(c) for c in columns)} but the file has: "
            f"{', '.join(header) or '(no columns)'}",
        )


def _derived_id(mapping: Mapping, source: str) -> str:
    if not mapping.key:
        return "CAST(NULL AS VARCHAR)"
    parts = ", ".join(f"NULLIF(TRIM({quote(c)}), '')" for c in mapping.key)
    return (
        f"CASE WHEN COALESCE({parts}) IS NULL THEN NULL "
        f"ELSE {literal(source + ':')} || concat_ws('|', {parts}) END"
    )


def _normalised(con: duckdb.DuckDBPyConnection, mapping: Mapping, source: str) -> pa.Table:
    """One query: per field its text (``t<i>``) and its value (``<section>__<field>``)."""
    fields = specs(mapping)
    texts = ", ".join(f"{text_sql(spec)} AS t{i}" for i, (_, _, spec, _) in enumerate(fields))
    values = ", ".join(
        f"{parse_sql(f't{i}', spec, vt, timezone=mapping.timezone)} AS {quote(f'{s}__{t}')}"
        for i, (s, t, spec, vt) in enumerate(fields)
    )
    inner = f"SELECT {ROW}, {_derived_id(mapping, source)} AS __id, {texts} FROM raw"
    tail = ", ".join(f"t{i}" for i in range(len(fields)))
    return con.sql(f"SELECT {ROW}, __id, {values}, {tail} FROM ({inner})").to_arrow_table()


def load_rows(
    wh: Warehouse,
    raw: RawRows,
    mapping: Mapping,
    *,
    source: str,
    region: str,
    currency: str,
    origin_of: Callable[[int], str],
    progress: Progress | None = None,
    limits: Limits | None = None,
    erased: ErasedCheck | None = None,
) -> LoadResult:
    """Normalise, validate, assemble and store rows already read; dead letters are returned."""
    progress = progress or _no_progress
    total = raw.table.num_rows
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        register_udfs(con, region=region)
        con.register("raw", raw.table)
        progress("validate", 0, total)
        table = _normalised(con, mapping, source)
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        table, rejections = validate(
            table,
            raw,
            mapping,
            source=source,
            region=region,
            origin_of=origin_of,
            now=loaded_at,
            limits=limits or Limits(),
        )
        letters = rejections.letters()
        flags = rejections.flags()
        clean = table.filter(pa.array(~rejections.mask)).drop(
            [f"t{i}" for i in range(len(specs(mapping)))]
        )
        progress("validate", total, total)
        clean, dropped = _without_erased(clean, erased)
        con.register("clean", clean)
        context = Context(
            mapping=mapping,
            source=source,
            currency=mapping.currency or currency,
            loaded_at=loaded_at.isoformat(sep=" "),
        )
        tables = ASSEMBLERS[mapping.kind.name](con, context)
        stored = store(wh, tables, loaded_at=loaded_at, progress=progress)
    finally:
        con.close()
    return LoadResult(
        rows=total,
        written=stored.written,
        already_stored=stored.already,
        updated=stored.updated,
        older=stored.older,
        letters=list(letters.values()) + [f for row in flags.values() for f in row],
        rejected_rows=letters,
        flagged_rows=flags,
        erased=dropped,
    )


def _identifier_columns(table: pa.Table) -> dict[str, str]:
    """Clean column -> identifier type, as ``assemble._identifiers`` reads them."""
    found = {}
    for name in table.column_names:
        section, sep, target = name.partition("__")
        if not sep:
            continue
        if section == "identifiers" or (
            section in ("fields", "customer") and target in ("email", "phone")
        ):
            found[name] = target
    return found


def _without_erased(clean: pa.Table, erased: ErasedCheck | None) -> tuple[pa.Table, int]:
    """``clean`` without rows naming an erased person, and how many were dropped.

    The values are normalised already (lower-case email, E.164 phone), the form their
    hashes were taken in at erasure. Nothing is hashed while the list is empty; else
    each distinct value is hashed once and the rows holding a listed one are masked."""
    if erased is None or clean.num_rows == 0 or not erased.hashes():
        return clean, 0
    drop = pa.array([False] * clean.num_rows)
    for name, id_type in _identifier_columns(clean).items():
        values = clean.column(name)
        distinct = pc.unique(values.drop_null()).to_pylist()
        listed = [v for v in distinct if erased.is_erased(id_type, str(v))]
        if listed:
            hit = pc.fill_null(pc.is_in(values, value_set=pa.array(listed, values.type)), False)
            drop = pc.or_(drop, hit)
    dropped = int(pc.sum(drop).as_py() or 0)
    return (clean.filter(pc.invert(drop)) if dropped else clean), dropped
