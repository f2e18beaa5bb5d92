"""Writing assembled rows: only keys the warehouse does not hold yet, in dependency order.

De-duplication against what is stored is a semi-join of the incoming keys with the
stored table, run by the warehouse's own engine through Ibis (the keys travel as a
memtable), so it works the same on DuckDB, PostgreSQL or Spark and never pulls a whole
table back. Re-loading a file therefore writes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import ibis
import pyarrow as pa

from omnichannel.errors import WarehouseError
from omnichannel.ingest.deadletter import DeadLetter
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.store import conform

# People and catalogue first, facts after, identifiers last: a reader that sees an order
# can already find its customer record.
WRITE_ORDER = (
    "customer_records",
    "products",
    "content_items",
    "stores",
    "campaigns",
    "orders",
    "order_lines",
    "ad_spend",
    "events",
    "identifiers",
)


def _stored_keys(wh: Warehouse, name: str, rows: pa.Table) -> pa.Table:
    spec = wh.spec(name)
    key = list(spec.key)
    stored = wh.table(name)
    if int(stored.count().to_pyarrow().as_py()) == 0:
        return rows.select(key).slice(0, 0)
    incoming = ibis.memtable(rows.select(key))
    return stored.select(*key).semi_join(incoming, key).to_pyarrow()


def new_rows(wh: Warehouse, name: str, rows: pa.Table) -> tuple[pa.Table, int]:
    """The rows whose key is not stored yet, and how many were already stored."""
    spec = wh.spec(name)
    rows = conform(spec, rows)
    if rows.num_rows == 0:
        return rows, 0
    existing = _stored_keys(wh, name, rows)
    if existing.num_rows == 0:
        return rows, 0
    key = ", ".join(f'"{k}"' for k in spec.key)
    con = duckdb.connect()
    try:
        con.register("incoming", rows)
        con.register("existing", existing)
        fresh = con.sql(f"SELECT * FROM incoming ANTI JOIN existing USING ({key})").to_arrow_table()
    finally:
        con.close()
    return conform(spec, fresh), rows.num_rows - fresh.num_rows


def _duckdb_of(wh: Warehouse) -> duckdb.DuckDBPyConnection | None:
    con = getattr(wh.con, "con", None)
    if wh.engine == "duckdb" and isinstance(con, duckdb.DuckDBPyConnection):
        return con
    return None


def _append_new_duckdb(
    con: duckdb.DuckDBPyConnection, wh: Warehouse, name: str, rows: pa.Table
) -> tuple[int, int]:
    """``new_rows`` and ``append`` as one DuckDB statement: the rows cross into it once."""
    spec = wh.spec(name)
    rows = conform(spec, rows)
    if rows.num_rows == 0:
        return 0, 0
    match = " AND ".join(f'r."{k}" = t."{k}"' for k in spec.key)
    cursor = con.cursor()
    try:
        cursor.register("incoming", rows)
        counted = cursor.execute(
            f'INSERT INTO "{spec.name}" BY NAME SELECT * FROM incoming AS r '
            f'WHERE NOT EXISTS (SELECT 1 FROM "{spec.name}" AS t WHERE {match})'
        ).fetchone()
    except duckdb.Error as exc:
        raise WarehouseError(f"could not append to {spec.name}: {exc}") from exc
    finally:
        cursor.close()
    written = int(counted[0]) if counted else 0
    return written, rows.num_rows - written


def store(
    wh: Warehouse,
    tables: dict[str, pa.Table],
    *,
    progress: Callable[[str, int, int], None],
) -> tuple[dict[str, int], dict[str, int]]:
    """Append each table's new rows; returns rows written and rows already stored, per table."""
    written: dict[str, int] = {}
    already: dict[str, int] = {}
    con = _duckdb_of(wh)
    for name in sorted(tables, key=WRITE_ORDER.index):
        rows = tables[name]
        if rows.num_columns == 0:
            continue
        stage = f"write {name}"
        progress(stage, 0, rows.num_rows)
        if con is not None:
            written[name], already[name] = _append_new_duckdb(con, wh, name, rows)
            progress(stage, rows.num_rows, rows.num_rows)
            continue
        fresh, skipped = new_rows(wh, name, rows)
        written[name] = wh.append(name, fresh)
        already[name] = skipped
        progress(stage, rows.num_rows, rows.num_rows)
    return written, already


def new_letters(wh: Warehouse, letters: list[DeadLetter]) -> list[DeadLetter]:
    """Letters not already stored: the same row of the same file refused again adds nothing."""
    if not letters:
        return []
    stored = wh.table("dead_letters")
    if int(stored.count().to_pyarrow().as_py()) == 0:
        return letters
    rows = pa.Table.from_pylist([letter.row() for letter in letters]).select(
        ["source", "origin", "payload"]
    )
    incoming = ibis.memtable(rows)
    key = ["source", "origin", "payload"]
    seen = stored.select(*key).semi_join(incoming, key).to_pyarrow().to_pylist()
    known = {(r["source"], r["origin"], r["payload"]) for r in seen}
    return [
        letter
        for letter, row in zip(letters, rows.to_pylist(), strict=True)
        if (row["source"], row["origin"], row["payload"]) not in known
    ]
