"""Listings and stock files, read by the file connectors' own machinery.

A listings export (one row per product per channel) and a stock export (one row per
movement: a POS sale, a receipt, a stock take) are mapped like any other file
(docs/connectors.md: the same YAML, the same transforms, the same normalisation in
DuckDB, the same ``on_invalid`` and dead letters). What differs is where the rows go:
into the operational store (listings, stock levels and the ledger), not the warehouse,
because they are updated in place and read by key in requests. Shipped mappings live
beside this module in ``mappings/`` (``omnichannel-listings``, ``omnichannel-stock``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import yaml

from omnichannel.ingest.connectors import _normalised, check_columns
from omnichannel.ingest.deadletter import DeadLetter
from omnichannel.ingest.kinds import Kind, MappingError
from omnichannel.ingest.mapping import (
    FORMATS,
    ON_INVALID,
    TOP_LEVEL,
    FieldSpec,
    Mapping,
    _section,
    check_source_name,
    check_timezone,
)
from omnichannel.ingest.normalize import register_udfs
from omnichannel.ingest.readers import RawRows, detect_format, origin, read_rows
from omnichannel.ingest.segment import Limits
from omnichannel.ingest.validate import validate
from omnichannel.warehouse.tables import MONEY, TS, TableSpec

LISTINGS = Kind(
    "listings",
    TableSpec(
        "channel_listings",
        ibis.schema(
            {
                "sku": "string",
                "channel": "string",
                "channel_sku": "string",
                "listed": "string",
                "title": "string",
                "price": MONEY,
                "currency": "string",
                "updated_at": TS,
            }
        ),
        ("channel", "channel_sku"),
        "One product on one sales channel.",
    ),
    "Channel listings: our SKU, the channel, its own code, listed or not, title, price.",
    ("channel_listings",),
    ("sku", "channel", "channel_sku", "listed", "title", "price", "currency", "updated_at"),
    ("sku", "channel", "channel_sku"),
    {"attributes": None},
    strict=frozenset({"fields.price", "fields.currency"}),
)

STOCK = Kind(
    "stock",
    TableSpec(
        "stock_movements",
        ibis.schema(
            {
                "movement_id": "string",
                "occurred_at": TS,
                "location_id": "string",
                "sku": "string",
                "kind": "string",
                "quantity": "int32",
                "reference": "string",
            }
        ),
        ("movement_id",),
        "One stock movement.",
    ),
    "Stock movements: POS sales, web order shipments, receipts, transfers, counts.",
    ("stock_levels", "stock_movements"),
    ("movement_id", "occurred_at", "location_id", "sku", "kind", "quantity", "reference"),
    ("movement_id", "location_id", "sku", "kind", "quantity"),
    {},
    derivable="movement_id",
    on_invalid="reject",
)

KINDS: dict[str, Kind] = {k.name: k for k in (LISTINGS, STOCK)}
SHIPPED = "omnichannel.commerce.mappings"
CHANNELS = ("web", "app", "wechat", "tmall", "jd", "store")
TRUE = {"1", "true", "yes", "y", "listed", "on"}
FALSE = {"0", "false", "no", "n", "unlisted", "delisted", "off"}


@dataclass
class FileRows:
    """The rows of a file that passed the mapping, as dicts, and the refused rows."""

    rows: list[dict[str, Any]]
    letters: list[DeadLetter] = field(default_factory=list)
    read: int = 0
    path: str = ""
    mapping: str = ""


def shipped() -> dict[str, str]:
    folder = resources.files(SHIPPED)
    return {
        e.name.removesuffix(".yaml"): e.read_text(encoding="utf-8")
        for e in folder.iterdir()
        if e.name.endswith(".yaml")
    }


def load_mapping(path_or_name: str | Path, kind: str) -> Mapping:
    """A listings or stock mapping from a YAML file or a shipped one, checked like ingest's."""
    path = Path(path_or_name)
    if path.is_file():
        text, where = path.read_text(encoding="utf-8"), str(path)
    else:
        known = shipped()
        if str(path_or_name) not in known:
            raise MappingError(
                "mapping", str(path_or_name), f"a YAML file or one of {', '.join(sorted(known))}"
            )
        text, where = known[str(path_or_name)], f"shipped:{path_or_name}"
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError("mapping", where, f"valid YAML ({exc})") from None
    return parse_mapping(raw, kind=kind, origin=where)


def parse_mapping(raw: object, *, kind: str, origin: str = "<inline>") -> Mapping:
    if kind not in KINDS:
        raise MappingError("kind", kind, f"one of {', '.join(KINDS)}")
    if not isinstance(raw, dict):
        raise MappingError("mapping", type(raw).__name__, "a YAML mapping with kind and fields")
    unknown = sorted(set(raw) - set(TOP_LEVEL))
    if unknown:
        raise MappingError(unknown[0], raw[unknown[0]], f"one of the keys {', '.join(TOP_LEVEL)}")
    if raw.get("kind", kind) != kind:
        raise MappingError("kind", raw.get("kind"), f"{kind} (this file loads {kind})")
    spec = KINDS[kind]
    sections: dict[str, dict[str, FieldSpec]] = {}
    for name in ("fields", "attributes"):
        if raw.get(name) is not None:
            if name != "fields" and name not in spec.sections:
                raise MappingError(name, kind, f"a kind with a {name} section: listings")
            sections[name] = _section(spec, name, raw[name])
    fmt = raw.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise MappingError("format", fmt, f"one of {', '.join(FORMATS)}")
    on_invalid = raw.get("on_invalid")
    if on_invalid is not None and on_invalid not in ON_INVALID:
        raise MappingError("on_invalid", on_invalid, "reject or null")
    key = raw.get("key", [])
    mapping = Mapping(
        name=str(raw.get("name", Path(origin).stem)),
        kind=spec,
        sections=sections,
        key=tuple(str(k) for k in ([key] if isinstance(key, str) else key)),
        format=fmt,
        encoding=str(raw.get("encoding", "utf-8")),
        delimiter=str(raw.get("delimiter", ",")),
        skip_rows=int(raw.get("skip_rows", 0)),
        timezone=check_timezone("timezone", str(raw.get("timezone", "UTC"))),
        currency=None if raw.get("currency") is None else str(raw["currency"]),
        on_invalid=on_invalid,
        description=str(raw.get("description", "")),
        origin=origin,
        raw=raw,
    )
    spec.check(mapping)
    return mapping


def read_file(
    path: Path,
    mapping: Mapping,
    *,
    source: str,
    region: str = "CN",
    limits: Limits | None = None,
) -> FileRows:
    """Read, normalise and check a file; accepted rows come back as dicts by target field."""
    check_source_name(source)
    kind = mapping.kind.name
    raw = read_rows(
        path,
        detect_format(path, mapping.format),
        encoding=mapping.encoding,
        delimiter=mapping.delimiter,
        skip_rows=mapping.skip_rows,
        source=source,
        kind=kind,
    )
    check_columns(mapping, raw.header, str(path))
    table, letters = _checked(
        raw, mapping, source=source, region=region, path=path, limits=limits or Limits()
    )
    payloads = _payloads(raw)
    rows = []
    for record in table.to_pylist():
        row: dict[str, Any] = {"__row": record["__row"], "__id": record["__id"]}
        attributes = {}
        for name, value in record.items():
            section, _, target = name.partition("__")
            if section == "fields":
                row[target] = value
            elif section == "attributes" and value is not None:
                attributes[target] = value
        row["attributes"] = attributes
        row["__payload"] = payloads.get(record["__row"], "")
        rows.append(row)
    return FileRows(
        rows=rows,
        letters=raw.letters + letters,
        read=raw.table.num_rows + len(raw.letters),
        path=str(path),
        mapping=mapping.name,
    )


def _checked(
    raw: RawRows, mapping: Mapping, *, source: str, region: str, path: Path, limits: Limits
) -> tuple[pa.Table, list[DeadLetter]]:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        register_udfs(con, region=region)
        con.register("raw", raw.table)
        table = _normalised(con, mapping, source)
        table, rejections = validate(
            table,
            raw,
            mapping,
            source=source,
            region=region,
            origin_of=lambda row: origin(str(path), row),
            now=datetime.now(UTC).replace(tzinfo=None),
            limits=limits,
        )
    finally:
        con.close()
    letters = list(rejections.letters().values())
    letters += [f for row in rejections.flags().values() for f in row]
    keep = [n for n in table.column_names if not n.startswith("t") or "__" in n]
    clean = table.filter(pa.array(~rejections.mask)).select(keep)
    return clean, letters


def _payloads(raw: RawRows) -> dict[int, str]:
    """Each row as it was read (its cells joined), for dead letters of accepted rows."""
    out = {}
    for record in raw.table.to_pylist():
        cells = [v for k, v in record.items() if k != "__row"]
        out[int(record["__row"])] = ",".join("" if v is None else str(v) for v in cells)
    return out


def letter(
    row: dict[str, Any],
    *,
    source: str,
    kind: str,
    path: str,
    field_: str,
    value: object,
    reason: str,
) -> DeadLetter:
    """A dead letter for a row the file connectors accepted but commerce cannot use."""
    return DeadLetter(
        source=source,
        kind=kind,
        origin=origin(path, int(row["__row"])),
        payload=str(row.get("__payload") or ""),
        field=field_,
        value="" if value is None else str(value),
        reason=reason,
    )


def listed(value: object) -> bool | None:
    """``listed`` as the exports write it; None when it is not one of the known words."""
    if value is None:
        return True
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    return None
