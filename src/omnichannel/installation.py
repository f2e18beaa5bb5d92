"""One installation: its home directory, its warehouse and its operational store.

The warehouse and store modules are imported inside the functions that use them: they
bring Ibis, pandas, SQLAlchemy and Alembic (seconds of imports), which ``omni status`` on
the embedded default does without (``omnichannel.fast_status``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omnichannel import __version__
from omnichannel.config import Settings
from omnichannel.fast_status import describe_installation_fast

if TYPE_CHECKING:
    from omnichannel.warehouse import Warehouse


def initialise(settings: Settings) -> dict[str, Any]:
    """Create (or upgrade) everything an installation needs; safe to run again.

    The first run creates the admin token and returns it (``admin_token``) this once;
    later runs say it exists (``omni admin token`` replaces it).
    """
    from omnichannel.opstore import current_revision, open_opstore
    from omnichannel.opstore.admin_tokens import active_admin_tokens, create_admin_token
    from omnichannel.opstore.sealed import home_sealer
    from omnichannel.warehouse import open_warehouse
    from omnichannel.warehouse.backends import redact

    settings.ensure_home()
    with open_warehouse(settings.resolved_warehouse_url) as wh:
        report = wh.schema_report
    with (
        open_opstore(settings.resolved_opstore_url, sealer=home_sealer(settings.home)) as store,
        store.session() as session,
    ):
        if active_admin_tokens(session):
            admin_token = "(already set; shown once when made; `omni admin token` replaces it)"
        else:
            admin_token = create_admin_token(session, actor="omni init")
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
        "admin_token": admin_token,
    }


def describe_installation(settings: Settings) -> dict[str, Any]:
    """Version, home, warehouse engine, schema version and row counts, opstore revision,
    and how many collector requests were refused for want of a valid write key.

    On the embedded default this reads, never writes: a read-only DuckDB connection and
    sqlite3 (``fast_status``). Elsewhere, or when the warehouse needs creating or
    upgrading first, it opens the warehouse through Ibis, as the server does.
    """
    settings.ensure_home()
    fast = describe_installation_fast(settings)
    if fast is not None:
        return fast
    from omnichannel.warehouse import open_warehouse

    with open_warehouse(settings.resolved_warehouse_url) as wh:
        return describe(settings, wh)


def describe(settings: Settings, wh: Warehouse) -> dict[str, Any]:
    """``describe_installation`` on an open warehouse (the server's, for one)."""
    from omnichannel.opstore import current_revision, head_revision
    from omnichannel.warehouse.backends import redact

    warehouse = wh.describe()
    revision = current_revision(settings.resolved_opstore_url)
    head = head_revision()
    return {
        "version": __version__,
        "home": str(settings.home.resolve()),
        "warehouse": warehouse,
        "opstore": {
            "url": redact(settings.resolved_opstore_url),
            "revision": revision,
            "head": head,
        },
        "collector": _collector_counts(settings) if revision == head else {},
    }


def _collector_counts(settings: Settings) -> dict[str, Any]:
    # Read only when the store is at head: describing must not migrate anything.
    from omnichannel.ingest.unauthorized import unauthorized_counts
    from omnichannel.opstore import open_opstore
    from omnichannel.opstore.sealed import home_sealer

    with (
        open_opstore(settings.resolved_opstore_url, sealer=home_sealer(settings.home)) as store,
        store.session() as session,
    ):
        counts = unauthorized_counts(session)
    return {
        "unauthorized_requests": counts["requests"],
        "unauthorized_sampled": counts["sampled"],
    }
