"""Declarative column mappings: how one source's export becomes canonical rows.

A mapping is a small YAML document, one per source, so that loading a new export
means writing a mapping, not code::

    name: shopify-orders
    kind: orders
    timezone: UTC
    key: [Name]
    fields:
      order_id: Name
      ordered_at: {column: Created at, format: "%Y-%m-%d %H:%M:%S %z"}
      total: Total
      channel: {value: web}
    lines:
      sku: Lineitem sku
      quantity: Lineitem quantity
    identifiers:
      email: Email

``load_mapping`` checks everything a mapping says against the target kind before a
single row is read, so a typo fails at once with the field, the value and what is
accepted. See docs/connectors.md for every key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from omnichannel.errors import ValidationError
from omnichannel.ingest.kinds import ID_TYPES, KINDS, SECTION_TARGETS, Kind, MappingError

FORMATS = ("csv", "jsonl", "parquet")
SHIPPED_PACKAGE = "omnichannel.ingest.mappings"

# Keys a field spec may carry. Anything else is a typo we refuse rather than ignore.
TRANSFORMS: dict[str, str] = {
    "column": "the source column to read",
    "columns": "several source columns, joined with `join`",
    "join": "separator used with `columns` (default one space)",
    "value": "a constant instead of a column",
    "split": "split the value on this separator and keep `part`",
    "part": "which piece `split` keeps (0-based, negative counts from the end)",
    "format": "strptime format(s) for a timestamp or date",
    "timezone": "IANA time zone of timestamps written without an offset",
    "multiply": "multiply a number (e.g. 0.01 for cents)",
    "divide": "divide a number (e.g. 1000000 for micros)",
    "default": "value used when the column is empty",
    "map": "replace values through this table (unlisted values pass through)",
    "case": "lower or upper",
    "on_invalid": "reject or null: what an unreadable or out-of-bounds value does to its record",
}
ON_INVALID = ("reject", "null")
TOP_LEVEL = (
    "name",
    "kind",
    "description",
    "format",
    "encoding",
    "delimiter",
    "skip_rows",
    "timezone",
    "currency",
    "on_invalid",
    "key",
    "fields",
    *SECTION_TARGETS,
)


@dataclass(frozen=True)
class FieldSpec:
    """Where one target field's value comes from, and the light transforms applied to it."""

    target: str
    columns: tuple[str, ...] = ()
    join: str = " "
    value: str | None = None
    split: str | None = None
    part: int = 0
    formats: tuple[str, ...] = ()
    timezone: str | None = None
    factor: float | None = None
    divisor: float | None = None
    default: str | None = None
    value_map: dict[str, str] | None = None
    case: str | None = None
    on_invalid: str | None = None

    @property
    def label(self) -> str:
        """How a dead letter names the source of a value: the target and its column(s)."""
        if self.value is not None:
            return self.target
        return f"{self.target} (column {', '.join(repr(c) for c in self.columns)})"


@dataclass(frozen=True)
class Mapping:
    """A validated mapping: the kind it loads and a FieldSpec per target field, per section."""

    name: str
    kind: Kind
    sections: dict[str, dict[str, FieldSpec]]
    key: tuple[str, ...] = ()
    format: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    skip_rows: int = 0
    timezone: str = "UTC"
    currency: str | None = None
    on_invalid: str | None = None
    description: str = ""
    origin: str = "<inline>"
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def section(self, name: str) -> dict[str, FieldSpec]:
        return self.sections.get(name, {})

    def columns(self) -> list[tuple[str, str]]:
        """(field path, source column) for every column the mapping reads, in order."""
        used = [
            (f"{s}.{t}", c)
            for s, specs in self.sections.items()
            for t, spec in specs.items()
            for c in spec.columns
        ]
        return used + [(f"key[{i}]", c) for i, c in enumerate(self.key)]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.raw, sort_keys=False, allow_unicode=True)


def _fail(where: str, value: object, accepted: str) -> MappingError:
    return MappingError(where, value, accepted)


def _text(where: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(where, value, "a text value")
    return str(value)


def _number(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value == 0:
        raise _fail(where, value, "a non-zero number")
    return float(value)


def _count(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(where, value, "a whole number of lines, 0 or more")
    return value


def check_timezone(where: str, name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(where, name, "an IANA time zone such as UTC or Asia/Shanghai") from None
    return name


def _field_spec(where: str, target: str, raw: object) -> FieldSpec:
    if isinstance(raw, str):
        return FieldSpec(target=target, columns=(raw,))
    if not isinstance(raw, dict):
        raise _fail(where, raw, "a column name or a mapping with `column` or `value`")
    unknown = sorted(set(raw) - set(TRANSFORMS))
    if unknown:
        raise _fail(
            f"{where}.{unknown[0]}", unknown[0], f"one of the transforms {', '.join(TRANSFORMS)}"
        )
    sources = [k for k in ("column", "columns", "value") if k in raw]
    if len(sources) != 1:
        raise _fail(where, sorted(raw), "exactly one of `column`, `columns` or `value`")
    columns: tuple[str, ...] = ()
    if "column" in raw:
        columns = (_text(f"{where}.column", raw["column"]),)
    elif "columns" in raw:
        given = raw["columns"]
        if not isinstance(given, list) or not given:
            raise _fail(f"{where}.columns", given, "a non-empty list of column names")
        columns = tuple(_text(f"{where}.columns", c) for c in given)
    formats = raw.get("format", ())
    formats = (formats,) if isinstance(formats, str) else formats
    if not isinstance(formats, list | tuple) or not all(isinstance(f, str) for f in formats):
        raise _fail(f"{where}.format", formats, "a strptime format or a list of them")
    case = raw.get("case")
    if case not in (None, "lower", "upper"):
        raise _fail(f"{where}.case", case, "lower or upper")
    value_map = raw.get("map")
    if value_map is not None and not isinstance(value_map, dict):
        raise _fail(f"{where}.map", value_map, "a table of source value: target value")
    part = raw.get("part", 0)
    if isinstance(part, bool) or not isinstance(part, int):
        raise _fail(f"{where}.part", part, "an integer index")
    on_invalid = raw.get("on_invalid")
    if on_invalid is not None and on_invalid not in ON_INVALID:
        raise _fail(f"{where}.on_invalid", on_invalid, "reject or null")
    return FieldSpec(
        target=target,
        columns=columns,
        join=str(raw.get("join", " ")),
        value=None if "value" not in raw else _text(f"{where}.value", raw["value"]),
        split=None if "split" not in raw else _text(f"{where}.split", raw["split"]),
        part=part,
        formats=tuple(formats),
        timezone=(
            check_timezone(f"{where}.timezone", _text(f"{where}.timezone", raw["timezone"]))
            if "timezone" in raw
            else None
        ),
        factor=None if "multiply" not in raw else _number(f"{where}.multiply", raw["multiply"]),
        divisor=None if "divide" not in raw else _number(f"{where}.divide", raw["divide"]),
        default=None if "default" not in raw else _text(f"{where}.default", raw["default"]),
        value_map=None if value_map is None else {str(k): str(v) for k, v in value_map.items()},
        case=case,
        on_invalid=on_invalid,
    )


def _section(kind: Kind, name: str, raw: object) -> dict[str, FieldSpec]:
    if not isinstance(raw, dict):
        raise _fail(name, raw, "a table of target field: source column")
    allowed = kind.section_fields(name)
    specs = {}
    for target, spec in raw.items():
        # Free-form sections (attributes, properties) accept any key; others are closed.
        if allowed is not None and target not in allowed:
            raise _fail(
                f"{name}.{target}", target, f"a field of {kind.name} {name}: {', '.join(allowed)}"
            )
        specs[str(target)] = _field_spec(f"{name}.{target}", str(target), spec)
    return specs


def parse_mapping(raw: object, *, origin: str = "<inline>") -> Mapping:
    """Check a mapping document (already parsed from YAML) and build a Mapping."""
    if not isinstance(raw, dict):
        raise _fail("mapping", type(raw).__name__, "a YAML mapping with `kind` and `fields`")
    unknown = sorted(set(raw) - set(TOP_LEVEL))
    if unknown:
        raise _fail(unknown[0], raw[unknown[0]], f"one of the keys {', '.join(TOP_LEVEL)}")
    kind_name = raw.get("kind")
    if kind_name not in KINDS or kind_name == "events":
        raise _fail("kind", kind_name, f"one of {', '.join(k for k in KINDS if k != 'events')}")
    kind = KINDS[str(kind_name)]
    sections = {}
    for name in ("fields", *SECTION_TARGETS):
        if name in raw and raw[name] is not None:
            if name != "fields" and name not in kind.sections:
                raise _fail(
                    name,
                    kind.name,
                    f"a kind that has a {name} section: "
                    f"{', '.join(k.name for k in KINDS.values() if name in k.sections)}",
                )
            sections[name] = _section(kind, name, raw[name])
    identifiers = sections.get("identifiers", {})
    bad_ids = sorted(set(identifiers) - set(ID_TYPES))
    if bad_ids:
        raise _fail(f"identifiers.{bad_ids[0]}", bad_ids[0], f"an id_type: {', '.join(ID_TYPES)}")
    key = raw.get("key", [])
    key = [key] if isinstance(key, str) else key
    if not isinstance(key, list):
        raise _fail("key", key, "a source column or a list of them")
    fmt = raw.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise _fail("format", fmt, f"one of {', '.join(FORMATS)}")
    on_invalid = raw.get("on_invalid")
    if on_invalid is not None and on_invalid not in ON_INVALID:
        raise _fail("on_invalid", on_invalid, "reject or null")
    encoding = str(raw.get("encoding", "utf-8"))
    try:
        "".encode(encoding)
    except LookupError:
        raise _fail(
            "encoding", encoding, "a Python codec name such as utf-8, gbk or latin-1"
        ) from None
    mapping = Mapping(
        name=str(raw.get("name", Path(origin).stem)),
        kind=kind,
        sections=sections,
        key=tuple(_text("key", k) for k in key),
        format=fmt,
        encoding=encoding,
        delimiter=_text("delimiter", raw.get("delimiter", ",")),
        skip_rows=_count("skip_rows", raw.get("skip_rows", 0)),
        timezone=check_timezone("timezone", _text("timezone", raw.get("timezone", "UTC"))),
        currency=None if raw.get("currency") is None else _text("currency", raw["currency"]),
        on_invalid=on_invalid,
        description=str(raw.get("description", "")),
        origin=origin,
        raw=raw,
    )
    kind.check(mapping)
    return mapping


def load_mapping(path_or_name: str | Path) -> Mapping:
    """A mapping from a YAML file, or a shipped one by name (``shopify-orders``)."""
    path = Path(path_or_name)
    if path.is_file():
        text, origin = path.read_text(encoding="utf-8"), str(path)
    else:
        shipped = shipped_mappings()
        if str(path_or_name) not in shipped:
            raise _fail(
                "mapping",
                str(path_or_name),
                f"a YAML file or a shipped mapping: {', '.join(sorted(shipped))}",
            )
        text, origin = shipped[str(path_or_name)], f"shipped:{path_or_name}"
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail("mapping", origin, f"valid YAML ({exc})") from None
    return parse_mapping(raw, origin=origin)


def shipped_mappings() -> dict[str, str]:
    """Name -> YAML text of every mapping shipped in the package."""
    folder = resources.files(SHIPPED_PACKAGE)
    return {
        entry.name.removesuffix(".yaml"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    }


def identity_mapping(kind_name: str, columns: list[str]) -> Mapping:
    """For files already in canonical form: every column named like a target field maps to it."""
    kind = KINDS.get(kind_name)
    if kind is None or kind_name == "events":
        raise _fail("kind", kind_name, f"one of {', '.join(k for k in KINDS if k != 'events')}")
    fields = {c: c for c in columns if c in (kind.section_fields("fields") or ())}
    ids = {c: c for c in columns if c in ID_TYPES and "identifiers" in kind.sections}
    raw: dict[str, Any] = {"name": f"{kind_name}-canonical", "kind": kind_name, "fields": fields}
    if ids:
        raw["identifiers"] = ids
    return parse_mapping(raw, origin=f"canonical {kind_name} columns")


def scale(spec: FieldSpec) -> float | None:
    """The single factor a number is multiplied by, or None when it is left alone."""
    factor = (spec.factor or 1.0) / (spec.divisor or 1.0)
    return None if math.isclose(factor, 1.0) else factor


SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_source_name(source: str) -> str:
    """A source name is a path part and a label in reports: letters, digits, ``. _ -``."""
    if not SOURCE_NAME.fullmatch(source or ""):
        raise ValidationError(
            "source",
            source,
            "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(e.g. shopify, hubspot-eu)",
        )
    return source


def source_mapping_path(home: Path, source: str, kind: str) -> Path:
    """Where an installation keeps the mapping a source's files of a kind were loaded with."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in source)
    return home / "mappings" / f"{safe}.{kind}.yaml"


def remember_mapping(home: Path, source: str, mapping: Mapping) -> Path:
    """Keep the mapping beside the installation, so replays and reloads use the same one."""
    path = source_mapping_path(home, source, mapping.kind.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(mapping.to_yaml(), encoding="utf-8")
    return path


def mapping_of_source(home: Path, source: str, kind: str) -> Mapping | None:
    """The mapping a source's files of this kind were last loaded with, if any."""
    path = source_mapping_path(home, source, kind)
    return load_mapping(path) if path.is_file() else None
