"""From validated rows to canonical tables: one set of DuckDB queries per kind.

The input is the ``clean`` relation: one row per accepted file row, with a column
``<section>__<field>`` per mapped field (already normalised), ``__row`` (position in
the file) and ``__id`` (an id derived from the mapping's ``key`` columns). A file may
repeat a record (Shopify repeats the order on each line item; a report repeats a
contact), so each table is grouped on its key, keeping the first non-empty value of
each column in file order.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from omnichannel.ingest.mapping import Mapping
from omnichannel.ingest.normalize import literal, quote
from omnichannel.warehouse.tables import CUSTOMER_RECORDS, ORDER_LINES, TableSpec


@dataclass(frozen=True)
class Context:
    """What assembly needs besides the rows: the mapping and the load's constants."""

    mapping: Mapping
    source: str
    currency: str
    loaded_at: str  # ISO timestamp literal, the same for every row of one load


def column(mapping: Mapping, section: str, target: str) -> str | None:
    """The clean column holding a mapped field, or None when the mapping leaves it out."""
    return quote(f"{section}__{target}") if target in mapping.section(section) else None


def _first(expr: str) -> str:
    return f"arg_min({expr}, __row) FILTER (WHERE {expr} IS NOT NULL)"


def _json(mapping: Mapping, section: str) -> str:
    # Sorted, so the same values give the same JSON whatever order a mapping lists
    # them in: a re-load through a reordered mapping is not a new version.
    names = sorted(mapping.section(section))
    if not names:
        return "NULL"
    pairs = ", ".join(f"{literal(n)}, {quote(f'{section}__{n}')}" for n in names)
    return f"CAST(json_object({pairs}) AS VARCHAR)"


def _field(ctx: Context, name: str) -> str:
    """A main-table field: mapped column, else the kind's constant, else the default."""
    mapped = column(ctx.mapping, "fields", name)
    if mapped:
        if name == "currency":
            return f"COALESCE({mapped}, {literal(ctx.currency)})"
        return mapped
    if name in ctx.mapping.kind.constants:
        return literal(ctx.mapping.kind.constants[name])
    if name == "currency":
        return literal(ctx.currency)
    if name == ctx.mapping.kind.derivable:
        return "__id"
    return "NULL"


def _grouped(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    key: dict[str, str],
    values: dict[str, str],
    relation: str = "clean",
) -> pa.Table:
    """One row per key: the first non-empty value of each column, in file order."""
    keys = ", ".join(f"{expr} AS {quote(name)}" for name, expr in key.items())
    # Unmapped columns are left out; ``conform`` writes them as NULL.
    cols = "".join(
        f", {_first(expr)} AS {quote(name)}"
        for name, expr in values.items()
        if name in spec.schema.names and name not in key and expr != "NULL"
    )
    where = " AND ".join(f"{expr} IS NOT NULL" for expr in key.values())
    group = ", ".join(str(i + 1) for i in range(len(key)))
    return con.sql(
        f"SELECT {keys}{cols} FROM {relation} WHERE {where} GROUP BY {group} ORDER BY min(__row)"
    ).to_arrow_table()


def _identifiers(
    con: duckdb.DuckDBPyConnection, ctx: Context, record_id: str, observed_at: str
) -> pa.Table:
    m = ctx.mapping
    ids = {id_type: f"identifiers__{id_type}" for id_type in m.section("identifiers")}
    # Email and phone of the person are identifiers too, unless the mapping maps them apart.
    person = "fields" if m.kind.table is CUSTOMER_RECORDS else "customer"
    for id_type in ("email", "phone"):
        if id_type not in ids and id_type in m.section(person):
            ids[id_type] = f"{person}__{id_type}"
    parts = [
        f"SELECT {literal(ctx.source)} AS source, {record_id} AS record_id, "
        f"{literal(id_type)} AS id_type, {quote(name)} AS id_value, "
        f"COALESCE({observed_at}, TIMESTAMP {literal(ctx.loaded_at)}) AS observed_at, __row "
        f"FROM clean WHERE {quote(name)} IS NOT NULL AND {record_id} IS NOT NULL"
        for id_type, name in ids.items()
    ]
    if not parts:
        return pa.table({})
    return con.sql(
        "SELECT source, record_id, id_type, id_value, min(observed_at) AS observed_at "
        f"FROM ({' UNION ALL '.join(parts)}) GROUP BY source, record_id, id_type, id_value "
        "ORDER BY min(__row)"
    ).to_arrow_table()


def _customers(con: duckdb.DuckDBPyConnection, ctx: Context, record_id: str) -> pa.Table:
    fields = ctx.mapping.section("customer")
    values = {n: quote(f"customer__{n}") for n in fields if n != "record_id"}
    values["source"] = literal(ctx.source)
    return _grouped(con, CUSTOMER_RECORDS, {"record_id": record_id}, values)


def orders(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, pa.Table]:
    m = ctx.mapping
    order_id = _field(ctx, "order_id")
    buyer = (
        column(m, "customer", "record_id") or column(m, "fields", "customer_record_id") or order_id
    )
    spec = m.kind.table
    values = {n: _field(ctx, n) for n in spec.schema.names if n not in ("order_id",)}
    values.update(
        source=literal(ctx.source), attributes=_json(m, "attributes"), customer_record_id=buyer
    )
    out: dict[str, pa.Table] = {}
    lines = m.section("lines")
    if lines:
        qty = column(m, "lines", "quantity") or "1"
        price = column(m, "lines", "unit_price") or "NULL"
        discount = column(m, "lines", "discount") or "NULL"
        total = column(m, "lines", "line_total") or (
            f"CAST({qty} * {price} - COALESCE({discount}, 0) AS DECIMAL(18, 2))"
        )
        number = column(m, "lines", "line_number") or (
            f"CAST(row_number() OVER (PARTITION BY {order_id} ORDER BY __row) AS INTEGER)"
        )
        # Exports often name the currency on an order's first row only.
        mapped_currency = column(m, "fields", "currency")
        currency = (
            (
                f"COALESCE(max({mapped_currency}) OVER (PARTITION BY {order_id}), "
                f"{literal(ctx.currency)})"
            )
            if mapped_currency
            else _field(ctx, "currency")
        )
        any_line = " OR ".join(f"{quote(f'lines__{n}')} IS NOT NULL" for n in lines)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW line_rows AS SELECT {literal(ctx.source)} AS source, "
            f"{order_id} AS order_id, "
            f"{number} AS line_number, {column(m, 'lines', 'product_id') or 'NULL'} AS product_id, "
            f"{column(m, 'lines', 'sku') or 'NULL'} AS sku, {qty} AS quantity, "
            f"{price} AS unit_price, {discount} AS discount, {total} AS line_total, "
            f"{currency} AS currency, __row, ({any_line}) AS has_line FROM clean"
        )
        # loaded_at is the writer's to fill, for every table alike.
        line_values = {n: quote(n) for n in ORDER_LINES.schema.names if n != "loaded_at"}
        out["order_lines"] = _grouped(
            con,
            ORDER_LINES,
            {"source": "source", "order_id": "order_id", "line_number": "line_number"},
            line_values,
            relation="(SELECT * FROM line_rows WHERE has_line)",
        )
    out["orders"] = _grouped(con, spec, {"order_id": order_id}, values)
    if lines and "total" not in m.section("fields"):
        # An export without an order total: the order is worth the sum of its lines.
        con.register("orders_out", out["orders"])
        con.register("lines_out", out["order_lines"])
        out["orders"] = con.sql(
            "SELECT o.*, CAST(s.total AS DECIMAL(18, 2)) AS total FROM orders_out o "
            "LEFT JOIN (SELECT order_id, sum(line_total) AS total FROM lines_out GROUP BY 1) s "
            "ON o.order_id = s.order_id"
        ).to_arrow_table()
    if m.section("customer"):
        out["customer_records"] = _customers(con, ctx, buyer)
    out["identifiers"] = _identifiers(con, ctx, buyer, _field(ctx, "ordered_at"))
    return out


def crm(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, pa.Table]:
    m = ctx.mapping
    record_id = _field(ctx, "record_id")
    values = {n: _field(ctx, n) for n in CUSTOMER_RECORDS.schema.names}
    values.update(source=literal(ctx.source), attributes=_json(m, "attributes"))
    seen = f"COALESCE({_field(ctx, 'updated_at')}, {_field(ctx, 'created_at')})"
    return {
        "customer_records": _grouped(con, CUSTOMER_RECORDS, {"record_id": record_id}, values),
        "identifiers": _identifiers(con, ctx, record_id, seen),
    }


def social(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, pa.Table]:
    m = ctx.mapping
    spec = m.kind.table
    message_id = _field(ctx, "message_id")
    values = {n: _field(ctx, n) for n in spec.schema.names}
    loaded = f"TIMESTAMP {literal(ctx.loaded_at)}"
    values.update(
        type="'track'",
        source=literal(ctx.source),
        properties=_json(m, "properties"),
        original_timestamp=_field(ctx, "timestamp"),
        received_at=loaded,
        loaded_at=loaded,
    )
    record_id = (
        column(m, "customer", "record_id")
        or f"COALESCE({_field(ctx, 'user_id')}, {_field(ctx, 'anonymous_id')})"
    )
    out = {"events": _grouped(con, spec, {"message_id": message_id}, values)}
    if m.section("customer"):
        out["customer_records"] = _customers(con, ctx, record_id)
    out["identifiers"] = _identifiers(con, ctx, record_id, _field(ctx, "timestamp"))
    return out


def adspend(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, pa.Table]:
    campaign_id = f"COALESCE({_field(ctx, 'campaign_id')}, {_field(ctx, 'campaign_name')})"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW spend_rows AS SELECT {_field(ctx, 'date')} AS date, "
        f"{_field(ctx, 'channel')} AS channel, {campaign_id} AS campaign_id, "
        f"{_field(ctx, 'campaign_name')} AS campaign_name, {_field(ctx, 'spend')} AS spend, "
        f"{_field(ctx, 'currency')} AS currency, {_field(ctx, 'impressions')} AS impressions, "
        f"{_field(ctx, 'clicks')} AS clicks, __row FROM clean"
    )
    # Reports split a campaign-day by device or placement; the table holds the day's sum.
    spend = con.sql(
        "SELECT date, channel, campaign_id, arg_min(campaign_name, __row) AS campaign_name, "
        "CAST(sum(spend) AS DECIMAL(18, 2)) AS spend, arg_min(currency, __row) AS currency, "
        "sum(impressions) AS impressions, sum(clicks) AS clicks FROM spend_rows "
        "WHERE date IS NOT NULL AND channel IS NOT NULL AND campaign_id IS NOT NULL "
        "GROUP BY ALL ORDER BY min(__row)"
    ).to_arrow_table()
    campaigns = con.sql(
        "SELECT campaign_id, arg_min(campaign_name, __row) AS name, arg_min(channel, __row) "
        "AS channel, min(date) AS start_date, max(date) AS end_date, "
        "arg_min(currency, __row) AS currency FROM spend_rows WHERE campaign_id IS NOT NULL "
        "GROUP BY campaign_id ORDER BY min(__row)"
    ).to_arrow_table()
    return {"ad_spend": spend, "campaigns": campaigns}


def catalogue(con: duckdb.DuckDBPyConnection, ctx: Context) -> dict[str, pa.Table]:
    """products, content and stores: one table keyed on one id."""
    spec = ctx.mapping.kind.table
    key = spec.key[0]
    values = {n: _field(ctx, n) for n in spec.schema.names}
    if "attributes" in spec.schema.names:
        values["attributes"] = _json(ctx.mapping, "attributes")
    return {spec.name: _grouped(con, spec, {key: _field(ctx, key)}, values)}


ASSEMBLERS = {
    "orders": orders,
    "pos": orders,
    "crm": crm,
    "social": social,
    "adspend": adspend,
    "products": catalogue,
    "content": catalogue,
    "stores": catalogue,
}
