"""``omni status`` on the embedded default (DuckDB warehouse, SQLite store) without Ibis,
pandas, SQLAlchemy or Alembic.

Those imports cost about three seconds, and status only needs a schema version, one row
count per canonical table and two revisions. Here one read-only DuckDB connection answers
the warehouse part in one statement, and the standard library's sqlite3 the store part,
so status can never upgrade or write anything. Anything this module is not sure of (another
engine, a warehouse or store that does not exist yet or is not at this version's schema, a
locked file) returns ``None`` and the caller takes the full path, which gives the same
answer or the same error as before.

It lives outside ``omnichannel.warehouse``: importing anything inside that package runs
its ``__init__``, which imports Ibis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from omnichannel import __version__
from omnichannel.config import Settings
from omnichannel.opstore_revisions import (
    connect_read_only,
    head_revision_from_files,
    sqlite_path,
    stamped_revisions,
)

# The names of ``omnichannel.warehouse.tables.ALL_TABLES``, in its order, and its
# ``SCHEMA_VERSION`` and ``META_TABLE``: that module builds Ibis schemas, so importing it
# is what this module avoids. tests/cli/test_status_fast.py fails when they drift apart.
CANONICAL_TABLES: tuple[str, ...] = (
    "events",
    "identifiers",
    "customer_records",
    "orders",
    "order_lines",
    "products",
    "content_items",
    "stores",
    "campaigns",
    "ad_spend",
    "deliveries",
    "dead_letters",
    "dead_letter_replays",
    "record_history",
    "record_links",
    "record_profiles",
    "profile_identifiers",
    "identity_merges",
    "identity_refusals",
    "identity_observations",
    "profiles",
    "profile_hours",
    "profile_affinities",
    "profile_builds",
    "segment_memberships",
    "segment_refreshes",
    "send_times",
    "send_time_hours",
    "send_time_peaks",
    "send_time_builds",
    "propensity_scores",
)
SCHEMA_VERSION = 4
META_TABLE = "omni_meta"


def describe_installation_fast(settings: Settings) -> dict[str, Any] | None:
    """``installation.describe_installation``'s answer, or ``None`` when only the full
    path can give it."""
    warehouse_url = settings.resolved_warehouse_url
    opstore_url = settings.resolved_opstore_url
    if "@" in warehouse_url or "@" in opstore_url:
        return None  # a URL with credentials: leave redacting it to the full path
    duckdb_file = _duckdb_file(warehouse_url)
    store_file = sqlite_path(opstore_url)
    head = head_revision_from_files()
    if duckdb_file is None or store_file is None or head is None:
        return None
    tables = _table_counts(duckdb_file)
    if tables is None:
        return None
    store = _store_state(store_file, head)
    if store is None:
        return None
    revision, collector = store
    return {
        "version": __version__,
        "home": str(settings.home.resolve()),
        "warehouse": {
            "url": warehouse_url,
            "engine": "duckdb",
            "schema_version": SCHEMA_VERSION,
            "tables": tables,
        },
        "opstore": {"url": opstore_url, "revision": revision, "head": head},
        "collector": collector,
    }


def _duckdb_file(url: str) -> Path | None:
    """The existing file a ``duckdb:///path`` URL names; None for anything else."""
    if "://" not in url or url.split("://", 1)[0].lower().split("+")[0] != "duckdb":
        return None
    parts = urlsplit(url)
    location = unquote(parts.netloc + parts.path)
    if location in ("", "/", "/:memory:", ":memory:") or parts.query:
        return None
    path = Path(location)
    return path if path.is_file() else None


def _table_counts(path: Path) -> dict[str, int] | None:
    """Rows per canonical table, in one statement; None unless the warehouse is exactly at
    this version's schema (the full path would upgrade it first)."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None  # e.g. held by another process: the full path reports it
    try:
        present = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
            ).fetchall()
        }
        if META_TABLE not in present or not set(CANONICAL_TABLES) <= present:
            return None
        versions = con.execute(
            f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
        ).fetchall()
        if not versions or versions[-1][0] != str(SCHEMA_VERSION):
            return None
        union = " UNION ALL ".join(
            f'SELECT {i} AS i, count(*) AS n FROM "{name}"'
            for i, name in enumerate(CANONICAL_TABLES)
        )
        counts = dict(con.execute(union).fetchall())
    except duckdb.Error:
        return None
    finally:
        con.close()
    return {name: int(counts[i]) for i, name in enumerate(CANONICAL_TABLES)}


def _store_state(path: Path, head: str) -> tuple[str | None, dict[str, Any]] | None:
    """(revision, collector counts) of the store; the counts only when it is at ``head``,
    as the full path gives them. None when only Alembic can say (several heads)."""
    import sqlite3

    if not path.exists():
        return None, {}
    try:
        con = connect_read_only(path)
    except sqlite3.Error:
        return None
    try:
        stamped = stamped_revisions(con)
        if len(stamped) > 1:
            return None
        revision = stamped[0] if stamped else None
        if revision != head:
            return revision, {}
        requests, sampled = con.execute(
            "SELECT coalesce(sum(requests), 0), coalesce(sum(sampled), 0) "
            "FROM unauthorized_requests"
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        con.close()
    return revision, {"unauthorized_requests": int(requests), "unauthorized_sampled": int(sampled)}
