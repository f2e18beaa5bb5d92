"""Export profiles: one row per (profile, identifier) and one row per profile's traits.

Both files are written by the engine, streamed as Arrow batches (Ibis ``to_parquet`` /
``to_csv``), so a million profiles never sit in Python memory at once.

Example::

    report = export_profiles(wh, Path("out"), fmt="parquet")
    report.files  # {"identifiers": Path("out/identifiers.parquet"), "traits": ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from omnichannel.errors import ValidationError
from omnichannel.profiles.lookup import INTERNAL_TYPES
from omnichannel.warehouse import Warehouse

FORMATS = ("csv", "parquet")
IDENTIFIER_COLUMNS = (
    "profile_id",
    "id_type",
    "id_value",
    "status",
    "records",
    "first_seen",
    "last_seen",
)


@dataclass
class ExportReport:
    """Where the files went and how many rows each holds."""

    format: str
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "files": {k: str(v) for k, v in self.files.items()},
            "rows": self.rows,
        }


def identifier_rows(wh: Warehouse) -> ir.Table:
    """``profile_identifiers`` as exported: the person's identifiers, linked or refused."""
    pi = wh.table("profile_identifiers")
    pi = pi.filter(~pi.id_type.isin(INTERNAL_TYPES))
    return pi.select(*IDENTIFIER_COLUMNS).order_by(["profile_id", "id_type", "id_value"])


def trait_rows(wh: Warehouse) -> ir.Table:
    p = wh.table("profiles")
    return p.order_by("profile_id")


def export_profiles(wh: Warehouse, directory: Path, *, fmt: str = "parquet") -> ExportReport:
    """Write ``identifiers.<fmt>`` and ``traits.<fmt>`` into ``directory``."""
    if fmt not in FORMATS:
        raise ValidationError("format", fmt, f"one of {', '.join(FORMATS)}")
    if directory.exists() and not directory.is_dir():
        raise ValidationError("output", str(directory), "a directory (it is a file)")
    directory.mkdir(parents=True, exist_ok=True)
    report = ExportReport(format=fmt)
    for name, table in (("identifiers", identifier_rows(wh)), ("traits", trait_rows(wh))):
        path = directory / f"{name}.{fmt}"
        if fmt == "parquet":
            table.to_parquet(path)
        else:
            table.to_csv(path)
        report.files[name] = path
        report.rows[name] = int(table.count().to_pyarrow().as_py())
    return report
