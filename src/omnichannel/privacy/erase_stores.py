"""Erasure from both stores: every row of every table that names the person.

**Warehouse** (every table the engine lists, ours or a plugin's): a row goes when any
text column equals one of the person's identifiers or profile ids, when its
``(source, record_id)`` is one of their records, or when a text column (a JSON document,
a dead letter's payload, a rendered message) holds one of their long values or names.
Derived tables (profiles, memberships, timelines, scores) lose their rows the same way
and are not re-made, since their inputs are gone.

**Operational store** (every table, reflected): a row that *is about* the person (a
column equal to an identifier or profile id: consents, the ledger, the outbox, inbox,
enrolments, channel suppressions, survey answers) is deleted; a row that only *mentions*
them (the audit log, comments, notifications) keeps its place with every mention
replaced by ``[erased]``, so the history of who did what stays whole. The privacy
tables hold only hashes and are left alone. The tables with sealed columns (outbox,
inbox, suppressions, audit log) are matched after opening their rows (``privacy/sealed_rows.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from sqlalchemy import JSON, MetaData, String, Table, Text, cast, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from omnichannel.privacy.footprint import Footprint
from omnichannel.privacy.matching import Matcher
from omnichannel.privacy.sealed_rows import matching_rows, redacted_values, sealed_tables

if TYPE_CHECKING:
    from omnichannel.platform import Platform
    from omnichannel.warehouse import Warehouse

# Rows here are kept with the person's mentions redacted, never deleted.
REDACTED_TABLES = frozenset({"audit_log", "comments", "notifications", "journeys", "reports"})
SKIPPED_TABLES = frozenset(
    {"alembic_version", "erased_identifiers", "privacy_requests", "users", "api_tokens"}
)
_CHUNK = 200


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def warehouse_predicate(wh: Warehouse, name: str, footprint: Footprint) -> str | None:
    schema = wh.con.table(name).schema()
    texts = [c for c, t in schema.items() if t.is_string()]
    if not texts:
        return None
    terms: list[str] = []
    values = footprint.values
    if values:
        listed = ", ".join(_literal(v) for v in values)
        terms += [f'"{c}" IN ({listed})' for c in texts]
    for value in footprint.contained:
        terms += [f'strpos(lower("{c}"), {_literal(value)}) > 0' for c in texts]
    if footprint.records and {"source", "record_id"} <= set(texts):
        pairs = ", ".join(f"({_literal(s)}, {_literal(r)})" for s, r in footprint.records)
        terms.append(f'("source", "record_id") IN ({pairs})')
    return " OR ".join(terms) if terms else None


def _close(wh: Warehouse, result: Any) -> None:
    # DuckDB answers with the connection itself: closing it would close the warehouse.
    if wh.engine != "duckdb" and hasattr(result, "close"):
        result.close()


def _scalar(wh: Warehouse, sql: str) -> int:
    result = wh.con.raw_sql(sql)
    try:
        row = result.fetchone()
    finally:
        _close(wh, result)
    return int(row[0]) if row else 0


def _run(wh: Warehouse, sql: str) -> None:
    _close(wh, wh.con.raw_sql(sql))


def count_warehouse(wh: Warehouse, footprint: Footprint) -> dict[str, int]:
    """Rows per warehouse table that name the person (0s left out)."""
    found: dict[str, int] = {}
    for name in sorted(wh.con.list_tables()):
        predicate = warehouse_predicate(wh, name, footprint)
        if predicate is None:
            continue
        n = _scalar(wh, f'SELECT count(*) FROM "{name}" WHERE {predicate}')
        if n:
            found[name] = n
    return found


def erase_warehouse(platform: Platform, footprint: Footprint) -> dict[str, int]:
    """Delete the person's rows from every warehouse table; rows deleted per table."""
    deleted: dict[str, int] = {}
    with platform.warehouse.writer() as wh:
        with wh.transaction():
            for name in sorted(wh.con.list_tables()):
                predicate = warehouse_predicate(wh, name, footprint)
                if predicate is None:
                    continue
                n = _scalar(wh, f'SELECT count(*) FROM "{name}" WHERE {predicate}')
                if n:
                    _run(wh, f'DELETE FROM "{name}" WHERE {predicate}')
                    deleted[name] = n
        if wh.engine == "duckdb":
            # Deleted rows leave the WAL and the file's live blocks now, not at shutdown.
            _run(wh, "CHECKPOINT")
    return deleted


def _text_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if isinstance(c.type, String | Text | JSON)]


def opstore_conditions(table: Table, footprint: Footprint) -> tuple[list[Any], list[Any]]:
    """(equal-to-a-value conditions, contains-a-long-value conditions) for ``table``."""
    equal, contains = [], []
    values = footprint.values
    for column in _text_columns(table):
        as_text = column if not isinstance(column.type, JSON) else cast(column, Text)
        if values and not isinstance(column.type, JSON):
            equal.append(column.in_(values))
        for value in footprint.mentions:
            contains.append(func.lower(as_text).contains(value, autoescape=True))
    return equal, contains


def erase_opstore(platform: Platform, footprint: Footprint) -> dict[str, dict[str, int]]:
    """Delete rows about the person, redact rows mentioning them; counts per table."""
    matcher = Matcher(footprint, names=True)
    store = platform.opstore
    metadata = MetaData()
    metadata.reflect(store.engine)
    deleted: dict[str, int] = {}
    redacted: dict[str, int] = {}
    with store.session() as session:
        for table in metadata.sorted_tables[::-1]:  # children before parents
            if table.name in SKIPPED_TABLES:
                continue
            if table.name in sealed_tables():
                n_deleted, n_redacted = _erase_sealed(platform, session, table, footprint)
                if n_deleted:
                    deleted[table.name] = n_deleted
                if n_redacted:
                    redacted[table.name] = n_redacted
                continue
            equal, contains = opstore_conditions(table, footprint)
            if not equal and not contains:
                continue
            if equal and table.name not in REDACTED_TABLES:
                try:
                    with session.begin_nested():
                        result: Any = session.execute(delete(table).where(or_(*equal)))
                        n = int(result.rowcount or 0)
                except IntegrityError:
                    n = 0  # another table's row points at it: redacted below instead
                if n:
                    deleted[table.name] = n
            n = _redact_rows(session, table, [*equal, *contains], matcher)
            if n:
                redacted[table.name] = n
    _compact_sqlite(platform)
    return {"deleted": deleted, "redacted": redacted}


def _erase_sealed(
    platform: Platform, session: Any, table: Table, footprint: Footprint
) -> tuple[int, int]:
    """(deleted, redacted) rows of a table with sealed columns."""
    ring = platform.privacy.keyring
    matcher = Matcher(footprint, names=True)
    deleted = redacted = 0
    for match in list(matching_rows(session, table, footprint, ring, matcher)):
        where = [table.c[k] == v for k, v in match.key.items()]
        if match.about and table.name not in REDACTED_TABLES:
            try:
                with session.begin_nested():
                    session.execute(delete(table).where(*where))
                deleted += 1
                continue
            except IntegrityError:
                pass  # another table's row points at it: redacted instead
        values = redacted_values(ring, table, match, matcher)
        if values:
            session.execute(update(table).where(*where).values(**values))
            redacted += 1
    return deleted, redacted


def _redact_rows(session: Any, table: Table, conditions: list[Any], matcher: Matcher) -> int:
    if not conditions or not list(table.primary_key.columns):
        return 0
    keys = list(table.primary_key.columns)
    columns = _text_columns(table)
    rows = session.execute(select(*keys, *columns).where(or_(*conditions))).all()
    changed = 0
    for row in rows:
        mapping = row._mapping
        values: dict[str, Any] = {}
        for column in columns:
            value = mapping[column]
            if matcher.names_value(value):
                values[column.name] = matcher.redact_value(value)
        if values:
            where = [k == mapping[k] for k in keys]
            session.execute(update(table).where(*where).values(**values))
            changed += 1
    return changed


def _compact_sqlite(platform: Platform) -> None:
    """SQLite keeps deleted pages (and the WAL) on disk until they are reused: vacuum."""
    engine = platform.opstore.engine
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.exec_driver_sql("VACUUM")
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def compact_warehouse(platform: Platform) -> str:
    """Rewrite the DuckDB file so deleted rows leave no bytes behind; what was done.

    DuckDB keeps a deleted row's bytes in the file's blocks until they are reused, so the
    file is copied into a fresh one (``COPY FROM DATABASE``) and swapped in. That needs
    the file to itself: beside (or inside) a running ``omni serve`` it is left for
    ``omni privacy compact`` with the server stopped, and the receipt says so.
    """
    from omnichannel.server_runtime import read_runtime

    if platform.warehouse.engine != "duckdb":
        return f"not needed on {platform.warehouse.engine}: run VACUUM FULL to reclaim pages"
    if read_runtime(platform.settings.home) is not None:
        return "pending: run `omni privacy compact` while the server is stopped"
    url = platform.settings.resolved_warehouse_url
    path = Path(url.removeprefix("duckdb://"))
    if not path.exists():
        return "not needed: in-memory warehouse"
    fresh = path.with_name(path.name + ".compact")
    fresh.unlink(missing_ok=True)
    platform.release_warehouse()
    con = duckdb.connect(str(path))
    try:
        con.execute("SET enable_progress_bar = false")
        (catalog,) = con.execute("SELECT current_database()").fetchone() or ("main",)
        con.execute(f"ATTACH '{fresh}' AS omni_compact")
        con.execute(f'COPY FROM DATABASE "{catalog}" TO omni_compact')
        con.execute("DETACH omni_compact")
    finally:
        con.close()
    os.chmod(fresh, path.stat().st_mode & 0o777)
    os.replace(fresh, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
    return f"compacted: {path.name} rewritten without the deleted rows"
