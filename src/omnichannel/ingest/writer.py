"""Writing assembled rows: each record's current version, in dependency order.

Keyed tables hold one row per key, the current version (see ``warehouse/versions.py``):
a key not stored is inserted, an identical row changes nothing (so re-loading a file
writes nothing), a newer version replaces the stored one and an older one is kept in
``record_history`` only. Newer means a later ``updated_at`` where the table has one and
both versions carry it, else the later arrival.

Rows that belong to a record follow it. When an order is superseded its lines are the
new version's lines (a line the new version lacks moves to history); when a customer
record (or an order that is its own buyer) is superseded, identifiers of the old
version that the new one no longer carries move to history, so they stop linking. The
rows of a version that arrives older are not written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.ingest.deadletter import DeadLetter
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.store import conform
from omnichannel.warehouse.tables import RECORD_HISTORY
from omnichannel.warehouse.versions import history_rows

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

# Tables whose rows are versions of a record -> the column that orders versions (None:
# arrival order). Campaigns keep the first sighting (their days widen, in ``assemble``
# terms, per report); events are immutable facts.
VERSIONED: dict[str, str | None] = {
    "customer_records": "updated_at",
    "orders": "updated_at",
    "order_lines": None,
    "products": None,
    "content_items": None,
    "stores": None,
    "ad_spend": None,
}
OWNER = ("source", "record_id")
LINE_OWNER = ("source", "order_id")


@dataclass
class Written:
    """Per table: rows written (new or newer), rows already stored, versions replaced."""

    written: dict[str, int] = field(default_factory=dict)
    already: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    older: dict[str, int] = field(default_factory=dict)


def _with_load_time(wh: Warehouse, name: str, rows: pa.Table, loaded_at: datetime) -> pa.Table:
    rows = conform(wh.spec(name), rows)
    if "loaded_at" in rows.column_names and rows.column("loaded_at").null_count == rows.num_rows:
        index = rows.schema.get_field_index("loaded_at")
        times = pa.array([loaded_at] * rows.num_rows, rows.schema.field(index).type)
        rows = rows.set_column(index, rows.schema.field(index), times)
    return rows


def _owned_by(rows: pa.Table, owners: pa.Table, columns: tuple[str, ...]) -> pa.Array:
    """A mask: which rows belong to one of ``owners`` (matched on ``columns``)."""
    if owners.num_rows == 0 or rows.num_rows == 0:
        return pa.array([False] * rows.num_rows, pa.bool_())
    marked = owners.select(list(columns)).append_column(
        "__owned", pa.array([True] * owners.num_rows, pa.bool_())
    )
    indexed = rows.select(list(columns)).append_column(
        "__i", pa.array(range(rows.num_rows), pa.int64())
    )
    joined = indexed.join(marked, list(columns), join_type="left outer").sort_by("__i")
    return pc.fill_null(joined.column("__owned"), False).combine_chunks()


def _replace_owned(
    wh: Warehouse,
    name: str,
    rows: pa.Table,
    columns: tuple[str, ...],
    replaced: pa.Table,
    at: datetime,
) -> None:
    """Stored rows of re-versioned owners that the new version lacks move to history."""
    if replaced.num_rows == 0:
        return
    spec = wh.spec(name)
    key = list(spec.key)
    stored = wh.rows_with_keys(name, replaced.select(list(columns)))
    gone = stored.join(rows.select(key), key, join_type="left anti")
    if gone.num_rows:
        # Together or not at all: a crash between would leave a row current and historic.
        with wh.transaction():
            wh.append_new(
                RECORD_HISTORY.name,
                history_rows(spec, gone, reason="superseded", version=None, at=at),
            )
            wh.delete_keys(name, gone.select(key))


def _owners(
    tables: dict[str, pa.Table], done: dict[str, tuple[pa.Table, pa.Table]]
) -> tuple[pa.Table, pa.Table]:
    """Identifier owners (source, record_id) whose record was re-versioned / arrived older."""
    out: list[list[pa.Table]] = [[], []]
    if "customer_records" in done:
        for i, keys in enumerate(done["customer_records"]):
            out[i].append(keys.select(list(OWNER)))
    if "orders" in done and "orders" in tables:
        orders = tables["orders"]
        own = orders.filter(
            pc.fill_null(
                pc.equal(orders.column("customer_record_id"), orders.column("order_id")), False
            )
        )
        for i, keys in enumerate(done["orders"]):
            mine = own.filter(_owned_by(own, keys, LINE_OWNER)).select(list(LINE_OWNER))
            out[i].append(mine.rename_columns(list(OWNER)))
    empty = pa.table({c: pa.array([], pa.string()) for c in OWNER})
    return (
        pa.concat_tables([empty, *out[0]], promote_options="permissive"),
        pa.concat_tables([empty, *out[1]], promote_options="permissive"),
    )


def store(
    wh: Warehouse,
    tables: dict[str, pa.Table],
    *,
    loaded_at: datetime,
    progress: Callable[[str, int, int], None],
) -> Written:
    """Write each table's rows as current versions (see the module docstring)."""
    out = Written()
    # Per versioned table: keys re-versioned by this load, keys that arrived older.
    done: dict[str, tuple[pa.Table, pa.Table]] = {}
    for name in sorted(tables, key=WRITE_ORDER.index):
        if tables[name].num_columns == 0:
            continue
        rows = _with_load_time(wh, name, tables[name], loaded_at)
        tables[name] = rows
        stage = f"write {name}"
        progress(stage, 0, rows.num_rows)
        if name == "order_lines" and "orders" in done:
            replaced, older = done["orders"]
            rows = rows.filter(pc.invert(_owned_by(rows, older, LINE_OWNER)))
            _replace_owned(wh, name, rows, LINE_OWNER, replaced, loaded_at)
        if name == "identifiers":
            replaced, older = _owners(tables, done)
            rows = rows.filter(pc.invert(_owned_by(rows, older, OWNER)))
            _replace_owned(wh, name, rows, OWNER, replaced, loaded_at)
        if name in VERSIONED:
            result = wh.upsert(name, rows, version=VERSIONED[name], at=loaded_at)
            done[name] = (result.updated_keys, result.older_keys)
            out.written[name] = result.written
            out.already[name] = result.unchanged + result.older
            out.updated[name] = result.updated
            out.older[name] = result.older
        else:
            appended = wh.append_new(name, rows)
            out.written[name], out.already[name] = appended.written, appended.already or 0
        progress(stage, rows.num_rows, rows.num_rows)
    return out


def new_letters(wh: Warehouse, letters: list[DeadLetter]) -> list[DeadLetter]:
    """Letters whose content is not stored yet for their source, each content once.

    The same row refused again, from the same file or a copy under another name, adds
    nothing: letters are compared by ``content_hash`` (source, kind, payload).
    """
    hashes: set[str] = set()
    unique = []
    for letter in letters:
        if letter.content_hash not in hashes:
            hashes.add(letter.content_hash)
            unique.append(letter)
    if not unique:
        return []
    stored = wh.table("dead_letters")
    if int(stored.count().to_pyarrow().as_py()) == 0:
        return unique
    incoming = ibis.memtable(pa.table({"content_hash": [d.content_hash for d in unique]}))
    seen = stored.select("content_hash").semi_join(incoming, "content_hash").to_pyarrow()
    known = set(seen.column("content_hash").to_pylist())
    return [letter for letter in unique if letter.content_hash not in known]
