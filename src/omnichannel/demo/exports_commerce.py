"""Order, media and catalogue exports of the demo business (see ``exports`` for customers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.demo.exports import Export, local_time, shop_time, utc_text, write_csv
from omnichannel.demo.orders import OrderTables

STOREFRONT_SOURCES = ("web", "app", "wechat")
MARKETPLACES = ("tmall", "jd")


class OrderRows:
    """The line items of one source system's orders, each with its order's columns."""

    def __init__(self, tables: OrderTables, product_names: pa.Array, source: str) -> None:
        orders = tables.orders
        mine = np.asarray(pc.equal(orders.column("source"), source).to_numpy(zero_copy_only=False))
        picked = np.flatnonzero(mine[tables.line_order])
        self.lines = tables.order_lines.take(pa.array(picked))
        self.order = orders.take(pa.array(tables.line_order[picked]))
        self.product_name = product_names.take(pa.array(tables.line_product[picked]))
        self.first = pc.equal(self.lines.column("line_number"), 1)

    def line(self, name: str) -> pa.ChunkedArray:
        return self.lines.column(name)

    def of_order(self, name: str, *, first_only: bool = False) -> pa.Array:
        values = self.order.column(name).combine_chunks()
        return pc.if_else(self.first, values, None) if first_only else values

    def status(self, names: dict[str, str]) -> pa.Array:
        status = self.order.column("status").combine_chunks()
        out = pa.array([None] * len(status), pa.string())
        for value, label in names.items():
            out = pc.if_else(pc.equal(status, value), label, out)
        return out


def _buyers(r: OrderRows, records: pa.Table | None) -> dict[str, pa.Array]:
    """Each line's buyer as Shopify writes them (``Email``, ``Billing ...``), from the records."""
    n = r.lines.num_rows
    columns = ("email", "first_name", "last_name", "phone", "city", "postcode", "country")
    if records is None or records.num_rows == 0:
        return {c: pa.nulls(n, pa.string()) for c in columns}
    people = (
        records.select(["record_id", *columns])
        .group_by("record_id", use_threads=False)
        .aggregate([(c, "first") for c in columns])
    )
    people = people.rename_columns(["record_id", *columns])
    wanted = pa.table(
        {"record_id": r.of_order("customer_record_id"), "__i": pa.array(range(n), pa.int64())}
    )
    joined = wanted.join(people, "record_id", join_type="left outer").sort_by("__i")
    return {c: joined.column(c).combine_chunks().cast(pa.string()) for c in columns}


def storefront_orders(
    directory: Path,
    tables: OrderTables,
    product_names: pa.Array,
    source: str,
    records: pa.Table | None = None,
) -> Export:
    """Shopify's order export layout: order columns on the first line item's row only.

    The columns are Shopify's own (so the shipped ``shopify-orders`` mapping loads it),
    plus those the storefront adds (Channel, Customer ID...), read by ``lotus-pine-orders``.
    """
    r = OrderRows(tables, product_names, source)

    def head(values: pa.Array) -> pa.Array:
        return pc.if_else(r.first, values, None)

    buyer = _buyers(r, records)
    name = pc.binary_join_element_wise(
        pc.fill_null(buyer["first_name"], ""), pc.fill_null(buyer["last_name"], ""), " "
    )
    columns = {
        "Name": r.of_order("order_id"),
        "Email": head(buyer["email"]),
        "Accepts Marketing": head(pa.array(["no"] * r.lines.num_rows)),
        "Billing Name": head(pc.if_else(pc.equal(pc.utf8_trim_whitespace(name), ""), None, name)),
        "Billing Phone": head(buyer["phone"]),
        "Billing City": head(buyer["city"]),
        "Billing Zip": head(buyer["postcode"]),
        "Billing Country": head(buyer["country"]),
        "Payment Method": head(pa.nulls(r.lines.num_rows, pa.string())),
        "Financial Status": head(r.status({"completed": "paid", "refunded": "refunded"})),
        "Fulfillment Status": head(pa.array(["fulfilled"] * r.lines.num_rows)),
        "Currency": r.of_order("currency", first_only=True),
        "Subtotal": r.of_order("subtotal", first_only=True),
        "Shipping": r.of_order("shipping", first_only=True),
        "Taxes": r.of_order("tax", first_only=True),
        "Total": r.of_order("total", first_only=True),
        "Discount Code": r.of_order("coupon", first_only=True),
        "Discount Amount": r.of_order("discount", first_only=True),
        "Created at": head(local_time(r.of_order("ordered_at"))),
        "Lineitem quantity": r.line("quantity"),
        "Lineitem name": r.product_name,
        "Lineitem price": r.line("unit_price"),
        "Lineitem sku": r.line("sku"),
        "Lineitem discount": r.line("discount"),
        "Lineitem product id": r.line("product_id"),
        "Channel": r.of_order("channel", first_only=True),
        "Fulfillment Method": r.of_order("fulfilment", first_only=True),
        "Customer ID": r.of_order("customer_record_id", first_only=True),
        "User ID": r.of_order("user_id", first_only=True),
        "Anonymous ID": r.of_order("anonymous_id", first_only=True),
        "Campaign ID": r.of_order("campaign_id", first_only=True),
    }
    path = directory / source / "orders_export.csv"
    rows = write_csv(path, columns)
    return Export(path, "orders", source, "lotus-pine-orders", rows)


def till_tickets(directory: Path, tables: OrderTables, product_names: pa.Array) -> Export:
    """The stores' ticket export: GB18030, Chinese headers, shop time without an offset."""
    r = OrderRows(tables, product_names, "pos")
    columns = {
        "小票号": r.of_order("order_id"),
        "门店编号": r.of_order("store_id"),
        "交易时间": shop_time(r.of_order("ordered_at")),
        "会员编号": r.of_order("customer_record_id"),
        "状态": r.status({"completed": "已完成", "refunded": "已退款"}),
        "商品编码": r.line("product_id"),
        "商品条码": r.line("sku"),
        "商品名称": r.product_name,
        "数量": r.line("quantity"),
        "单价": r.line("unit_price"),
        "折扣": r.line("discount"),
        "金额": r.line("line_total"),
        "商品总额": r.of_order("subtotal"),
        "优惠金额": r.of_order("discount"),
        "实收金额": r.of_order("total"),
        "优惠券": r.of_order("coupon"),
        "活动编号": r.of_order("campaign_id"),
    }
    path = directory / "pos" / "tickets.csv"
    rows = write_csv(path, columns, encoding="gb18030")
    return Export(path, "pos", "pos", "lotus-pine-pos", rows)


def marketplace_orders(
    directory: Path, tables: OrderTables, product_names: pa.Array, platform: str
) -> Export:
    r = OrderRows(tables, product_names, platform)
    fulfilment = r.of_order("fulfilment")
    columns = {
        "订单编号": r.of_order("order_id"),
        "买家会员名": r.of_order("user_id"),
        "订单状态": r.status({"completed": "交易成功", "refunded": "退款成功"}),
        "订单创建时间": shop_time(r.of_order("ordered_at")),
        "商品总价": r.of_order("subtotal"),
        "店铺优惠": r.of_order("discount"),
        "运费": r.of_order("shipping"),
        "实付款": r.of_order("total"),
        "配送方式": pc.if_else(pc.equal(fulfilment, "click_and_collect"), "门店自提", "快递"),
        "商家编码": r.line("product_id"),
        "商品条码": r.line("sku"),
        "商品标题": r.product_name,
        "购买数量": r.line("quantity"),
        "单价": r.line("unit_price"),
        "单品优惠": r.line("discount"),
    }
    path = directory / platform / "orders_report.csv"
    rows = write_csv(path, columns)
    return Export(path, "orders", platform, "lotus-pine-marketplace-orders", rows)


def media_report(directory: Path, ad_spend: pa.Table) -> Export:
    path = directory / "agency" / "media_report.csv"
    rows = write_csv(
        path,
        {
            "Date": ad_spend.column("date"),
            "Channel": ad_spend.column("channel"),
            "Campaign ID": ad_spend.column("campaign_id"),
            "Campaign": ad_spend.column("campaign_name"),
            "Cost (CNY)": ad_spend.column("spend"),
            "Impressions": ad_spend.column("impressions"),
            "Clicks": ad_spend.column("clicks"),
        },
    )
    return Export(path, "adspend", "agency", "lotus-pine-media-report", rows)


def catalogue_files(
    directory: Path, products: pa.Table, content: pa.Table, stores: pa.Table
) -> list[Export]:
    """The catalogue feed, the CMS's content list and the store list, in canonical columns."""
    season = pc.utf8_slice_codeunits(products.column("attributes"), 11, 15)
    product_columns = {
        name: products.column(name) for name in products.column_names if name != "attributes"
    }
    product_columns["created_at"] = utc_text(products.column("created_at"))
    product_columns["season"] = season
    content_columns = {name: content.column(name) for name in content.column_names}
    content_columns["published_at"] = utc_text(content.column("published_at"))
    store_columns = {name: stores.column(name) for name in stores.column_names}
    store_columns["opened_at"] = utc_text(stores.column("opened_at"))
    out = []
    for name, kind, columns, mapping in (
        ("products.csv", "products", product_columns, "lotus-pine-products"),
        ("content.csv", "content", content_columns, None),
        ("stores.csv", "stores", store_columns, None),
    ):
        path = directory / "catalogue" / name
        out.append(Export(path, kind, "catalogue", mapping, write_csv(path, columns)))
    return out
