"""Current and past versions of a keyed record: which incoming rows are new, newer or older.

Every canonical table keeps one row per key, the *current* version, so every reader
(identity, profiles, linkage, analytics) sees the current version without knowing about
versions. A version that stops being current moves to ``record_history`` whole, as JSON.

Which of two versions is newer: their version column (a mapped updated-at) when both
have one, else arrival (the one loaded later). A version identical to the current one,
load time aside, changes nothing, so re-loading a file is idempotent.

The comparison runs in a scratch DuckDB over the incoming rows and the stored rows of
the same keys only, so it works the same whatever engine holds the warehouse.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from omnichannel.warehouse.tables import TableSpec

NEW, SAME, NEWER, OLDER = "new", "same", "newer", "older"
STATE = "__state"
# Load time is when a version arrived, not part of what it says.
UNVERSIONED_COLUMNS = frozenset({"loaded_at"})


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compared_columns(spec: TableSpec) -> list[str]:
    return [c for c in spec.schema.names if c not in UNVERSIONED_COLUMNS]


def classify(
    spec: TableSpec, incoming: pa.Table, stored: pa.Table, version: str | None
) -> pa.Table:
    """The incoming rows with ``__state``: new, same, newer or older than the stored one."""
    on = " AND ".join(f"i.{_quote(k)} = s.{_quote(k)}" for k in spec.key)
    same = " AND ".join(
        f"i.{_quote(c)} IS NOT DISTINCT FROM s.{_quote(c)}" for c in compared_columns(spec)
    )
    older = "FALSE"
    if version is not None:
        v = _quote(version)
        older = f"i.{v} IS NOT NULL AND s.{v} IS NOT NULL AND i.{v} < s.{v}"
    first_key = _quote(spec.key[0])
    con = duckdb.connect()
    try:
        con.register("incoming", incoming)
        con.register("stored", stored)
        return con.sql(
            f"SELECT i.*, CASE WHEN s.{first_key} IS NULL THEN '{NEW}' "
            f"WHEN {same} THEN '{SAME}' WHEN {older} THEN '{OLDER}' ELSE '{NEWER}' END "
            f"AS {STATE} FROM incoming AS i LEFT JOIN stored AS s ON {on}"
        ).to_arrow_table()
    finally:
        con.close()


def history_rows(
    spec: TableSpec, rows: pa.Table, *, reason: str, version: str | None, at: datetime
) -> pa.Table:
    """``record_history`` rows for versions of ``spec`` that are not (or no longer) current."""
    key = ", ".join(f"{_quote(k)} := {_quote(k)}" for k in spec.key)
    content = ", ".join(f"{_quote(c)} := {_quote(c)}" for c in compared_columns(spec))
    times = [_quote(version)] if version is not None else []
    if "loaded_at" in spec.schema.names:
        times.append("loaded_at")
    version_at = f"COALESCE({', '.join(times)})" if times else "NULL"
    con = duckdb.connect()
    try:
        con.register("versions", rows.drop([c for c in rows.column_names if c == STATE]))
        return con.sql(
            f"SELECT '{spec.name}' AS table_name, CAST(to_json(struct_pack({key})) AS VARCHAR) "
            f"AS record_key, CAST({version_at} AS TIMESTAMP) AS version_at, "
            f"$at::TIMESTAMP AS superseded_at, '{reason}' AS reason, "
            "CAST(to_json(v) AS VARCHAR) AS row, "
            f"md5(CAST(to_json(struct_pack({content})) AS VARCHAR)) AS row_hash "
            "FROM versions AS v",
            params={"at": at},
        ).to_arrow_table()
    finally:
        con.close()
