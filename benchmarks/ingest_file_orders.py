"""Rows per second loading a Shopify-format orders CSV through `omni ingest`'s function.

Generates an export of ``--rows`` line-item rows (two lines per order, order-level
columns on the first row only, as Shopify writes them), then loads it with
``ingest_file`` and the shipped ``shopify-orders`` mapping into a fresh DuckDB
warehouse: normalisation (E.164 phones, lower-cased emails, UTC timestamps, ISO
currencies, decimal money), validation, grouping into orders and lines, identifiers,
customer records and the de-duplication against the warehouse. The baseline is DuckDB's
own ``read_csv`` of the same file into a table, the ceiling of any CSV load here.

    .venv/bin/python benchmarks/ingest_file_orders.py --rows 500000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.mapping import load_mapping
from omnichannel.warehouse import Warehouse

COLUMNS = [
    "Name",
    "Email",
    "Financial Status",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Fulfillment Status",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem sku",
    "Lineitem discount",
    "Billing Name",
    "Billing City",
    "Billing Zip",
    "Billing Country",
    "Billing Phone",
    "Payment Method",
    "Accepts Marketing",
]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    orders = rows // 2
    order_no = np.repeat(np.arange(1000, 1000 + orders), 2)[:rows]
    first = np.tile([True, False], orders)[:rows]
    customer = rng.integers(0, max(orders // 3, 1), orders).repeat(2)[:rows]
    price = rng.integers(10, 2000, rows).astype(np.float64)
    qty = rng.integers(1, 4, rows)
    seconds = rng.integers(0, 365 * 86400, orders).repeat(2)[:rows]
    created = np.datetime64("2024-01-01T00:00:00") + seconds.astype("timedelta64[s]")
    created_text = np.char.add(np.datetime_as_string(created, unit="s"), " +0800")
    created_text = np.char.replace(created_text, "T", " ")
    line_total = price * qty
    order_total = (
        line_total.reshape(-1, 2).sum(axis=1).repeat(2)[:rows] if rows % 2 == 0 else line_total
    )

    def on_first(values: np.ndarray) -> pa.Array:
        return pa.array(np.where(first, values, ""))

    data = {
        "Name": pa.array(np.char.add("#", order_no.astype(str))),
        "Email": pa.array(np.char.add(np.char.add("buyer", customer.astype(str)), "@example.com")),
        "Financial Status": on_first(np.full(rows, "paid")),
        "Currency": on_first(np.full(rows, "CNY")),
        "Subtotal": on_first(np.char.mod("%.2f", order_total)),
        "Shipping": on_first(np.full(rows, "0.00")),
        "Taxes": on_first(np.full(rows, "0.00")),
        "Total": on_first(np.char.mod("%.2f", order_total)),
        "Discount Code": pa.array(np.full(rows, "")),
        "Discount Amount": on_first(np.full(rows, "0.00")),
        "Fulfillment Status": on_first(np.full(rows, "fulfilled")),
        "Created at": pa.array(created_text),
        "Lineitem quantity": pa.array(qty.astype(str)),
        "Lineitem name": pa.array(np.char.add("Item ", (price % 97).astype(int).astype(str))),
        "Lineitem price": pa.array(np.char.mod("%.2f", price)),
        "Lineitem sku": pa.array(np.char.add("SKU-", (price % 97).astype(int).astype(str))),
        "Lineitem discount": pa.array(np.full(rows, "0.00")),
        "Billing Name": on_first(np.char.add("Buyer ", customer.astype(str))),
        "Billing City": on_first(np.full(rows, "Shanghai")),
        "Billing Zip": on_first(np.full(rows, "200000")),
        "Billing Country": on_first(np.full(rows, "CN")),
        "Billing Phone": on_first(np.char.add("138", np.char.zfill(customer.astype(str), 8))),
        "Payment Method": on_first(np.full(rows, "Alipay")),
        "Accepts Marketing": pa.array(np.full(rows, "no")),
    }
    pacsv.write_csv(pa.table(data), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "orders_export.csv"
        generate(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6

        con = duckdb.connect(str(folder / "baseline.duckdb"))
        start = time.perf_counter()
        con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{csv_path}', header=true)")
        baseline = time.perf_counter() - start
        con.close()

        mapping = load_mapping("shopify-orders")
        with Warehouse.open(f"duckdb:///{folder / 'omni.duckdb'}") as wh:
            start = time.perf_counter()
            report = ingest_file(wh, csv_path, kind="orders", source="shopify", mapping=mapping)
            ours = time.perf_counter() - start
            start = time.perf_counter()
            again = ingest_file(wh, csv_path, kind="orders", source="shopify", mapping=mapping)
            reload = time.perf_counter() - start

    print(f"file: {args.rows:,} rows, {size_mb:.0f} MB (Shopify orders export format)")
    print(f"duckdb read_csv into a table: {baseline:7.2f} s  {args.rows / baseline:12,.0f} rows/s")
    print(
        f"omni ingest (shopify-orders): {ours:7.2f} s  {args.rows / ours:12,.0f} rows/s"
        f"  -> {report.written}"
    )
    print(
        f"re-load of the same file:     {reload:7.2f} s  {args.rows / reload:12,.0f} rows/s"
        f"  -> written {sum(again.written.values())}"
    )
    print(f"ratio omni / duckdb ceiling:  {baseline / ours:.2f} (1.00 = as fast as read_csv)")


if __name__ == "__main__":
    main()
