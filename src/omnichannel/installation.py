"""One installation: its home directory, its warehouse and its operational store."""

from __future__ import annotations

from typing import Any

from omnichannel import __version__
from omnichannel.config import Settings
from omnichannel.opstore import current_revision, head_revision, open_opstore
from omnichannel.warehouse import open_warehouse
from omnichannel.warehouse.backends import redact


def initialise(settings: Settings) -> dict[str, Any]:
    """Create (or upgrade) everything an installation needs; safe to run again."""
    settings.ensure_home()
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        report = wh.schema_report
    open_opstore(settings.resolved_opstore_url).close()
    return {
        "home": str(settings.home.resolve()),
        "warehouse": {
            "url": redact(settings.resolved_warehouse_url),
            "schema_version": report.version,
            "created_tables": len(report.created_tables),
            "added_columns": len(report.added_columns),
        },
        "opstore": {
            "url": redact(settings.resolved_opstore_url),
            "revision": current_revision(settings.resolved_opstore_url),
        },
    }


def describe_installation(settings: Settings) -> dict[str, Any]:
    """Version, home, warehouse engine, schema version and row counts, opstore revision."""
    settings.ensure_home()
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        warehouse = wh.describe()
    return {
        "version": __version__,
        "home": str(settings.home.resolve()),
        "warehouse": warehouse,
        "opstore": {
            "url": redact(settings.resolved_opstore_url),
            "revision": current_revision(settings.resolved_opstore_url),
            "head": head_revision(),
        },
    }
