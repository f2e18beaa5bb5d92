"""What people did with products, weighted by kind, read from the warehouse through Ibis.

One row per interaction: ``profile_id, product_id, kind, at, load_seq``, where kind is

- ``view``: a ``Product Viewed`` or ``Product Clicked`` event,
- ``add_to_cart``: a ``Product Added`` event,
- ``purchase``: an order line of a non-void order, online or in a store (an order is a
  record of the identity graph, so ``record_profiles`` says whose it is), one row per unit.

Events are attributed as the profile build attributes them (``events_beside_profiles``:
the profile holding the event's user id, else its anonymous id), so "one person" is the
resolved profile everywhere. The weights (``recommendations.yaml``) turn kinds into the
confidence a collaborative model is fitted on.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.traits.base import (
    attributed_orders,
    events_beside_profiles,
)
from omnichannel.warehouse import Warehouse

EVENT_KINDS = {
    "Product Viewed": "view",
    "Product Clicked": "view",
    "Product Added": "add_to_cart",
}
SCHEMA = pa.schema(
    {
        "profile_id": pa.string(),
        "product_id": pa.string(),
        "kind": pa.string(),
        "at": pa.timestamp("us"),
        "channel": pa.string(),
    }
)


def read_interactions(
    wh: Warehouse, rules: IdentityRules, *, until: datetime | None = None
) -> pa.Table:
    """Every product interaction before ``until`` (all when None), oldest first."""
    joined = events_beside_profiles(wh, rules)
    products = joined.filter(joined.event.isin(list(EVENT_KINDS)))
    props = products.properties.cast("json")
    at = products.timestamp.coalesce(products.original_timestamp, products.received_at)
    events = products.select(
        profile_id=products.user_profile.coalesce(products.anon_profile),
        product_id=props["product_id"].str,
        kind=products.event.substitute(EVENT_KINDS),
        at=at.cast("timestamp"),
        channel=products.channel.coalesce(products.source),
    )
    orders = attributed_orders(wh)
    lines = wh.table("order_lines").select("source", "order_id", "product_id", "quantity")
    bought = orders.join(lines, ["source", "order_id"])
    purchases = bought.select(
        profile_id=bought.profile_id,
        product_id=bought.product_id,
        kind=ibis.literal("purchase"),
        at=bought.ordered_at.cast("timestamp"),
        channel=bought.channel,
        quantity=bought.quantity.coalesce(1).clip(lower=1, upper=20),
    )
    if until is not None:
        cut = ibis.literal(until).cast("timestamp")
        events = events.filter(events.at < cut)
        purchases = purchases.filter(purchases.at < cut)
    events = events.filter(events.profile_id.notnull(), events.product_id.notnull())
    purchases = purchases.filter(purchases.product_id.notnull())
    event_rows = events.to_pyarrow()
    purchase_rows = purchases.to_pyarrow()
    # One row per unit bought: three of a thing say more than one.
    repeats = pc.cast(purchase_rows.column("quantity"), pa.int64())
    purchase_rows = purchase_rows.drop_columns(["quantity"]).take(
        pa.array(_repeat_index(repeats.to_pylist()), pa.int64())
    )
    table = pa.concat_tables([event_rows.cast(SCHEMA), purchase_rows.cast(SCHEMA)])
    return table.sort_by([("at", "ascending")])


def _repeat_index(counts: list[int | None]) -> list[int]:
    out: list[int] = []
    for i, count in enumerate(counts):
        out.extend([i] * int(count or 1))
    return out


def read_catalogue(wh: Warehouse) -> pa.Table:
    """``products`` with the item features the rules and the content model read.

    ``in_stock`` and ``replenishable`` come from the product's ``attributes`` JSON when
    present (the warehouse has no inventory table; docs/recommendations.md), else null;
    ``reviews`` and ``galleries`` count the catalogue's review and photo-gallery content
    about the product, and ``review_views``/``gallery_views`` how often people opened it.
    """
    p = wh.table("products")
    attrs = p.attributes.cast("json")
    products = p.select(
        "product_id",
        "name",
        "category",
        "subcategory",
        "brand",
        price=p.price.cast("float64"),
        in_stock_flag=attrs["in_stock"].bool,
        replenishable_flag=attrs["replenishable"].bool,
    )
    c = wh.table("content_items")
    about = c.filter(c.product_id.notnull())
    counts = about.group_by("product_id").agg(
        reviews=(about.content_type == "review").cast("int64").sum(),
        galleries=(about.content_type == "photo_gallery").cast("int64").sum(),
    )
    table = products.left_join(counts, "product_id").select(
        products,
        reviews=counts.reviews.coalesce(0),
        galleries=counts.galleries.coalesce(0),
    )
    return table.order_by("product_id").to_pyarrow()


def content_views(wh: Warehouse, rules: IdentityRules) -> pa.Table:
    """Per product, how often its review and gallery pages were opened (``Content Viewed``)."""
    e = wh.table("events")
    viewed = e.filter(e.event == "Content Viewed")
    cid = viewed.properties.cast("json")["content_id"].str
    c = wh.table("content_items")
    about = c.filter(c.product_id.notnull()).select("content_id", "product_id", "content_type")
    joined = viewed.select(content_id=cid).join(about, "content_id")
    return (
        joined.group_by("product_id")
        .agg(
            review_views=(joined.content_type == "review").cast("int64").sum(),
            gallery_views=(joined.content_type == "photo_gallery").cast("int64").sum(),
        )
        .to_pyarrow()
    )


def store_sales(wh: Warehouse) -> pa.Table:
    """Units sold per product and store city (``stores.city``), for "popular in your area"."""
    o = wh.table("orders")
    s = wh.table("stores").select("store_id", "city")
    lines = wh.table("order_lines").select("source", "order_id", "product_id", "quantity")
    in_store = o.filter(o.store_id.notnull()).select("source", "order_id", "store_id")
    joined = in_store.join(lines, ["source", "order_id"]).join(s, "store_id")
    return (
        joined.group_by(["city", "product_id"])
        .agg(units=joined.quantity.coalesce(1).sum().cast("int64"))
        .to_pyarrow()
    )


def profile_cities(wh: Warehouse) -> pa.Table:
    """``profile_id, city``: the city of a person's customer records (most frequent)."""
    r = wh.table("customer_records").select("source", "record_id", "city")
    rp = wh.table("record_profiles").select("source", "record_id", "profile_id")
    joined = r.join(rp, ["source", "record_id"])
    joined = joined.filter(joined.city.notnull() & (joined.city != ""))
    counts = joined.group_by(["profile_id", "city"]).agg(n=ibis._.count())
    rank = ibis.row_number().over(
        group_by="profile_id", order_by=[ibis.desc(counts.n), counts.city]
    )
    top = counts.mutate(r=rank)
    return top.filter(top.r == 0).select("profile_id", "city").to_pyarrow()


def content_reads(
    wh: Warehouse, rules: IdentityRules, *, until: datetime | None = None
) -> pa.Table:
    """``profile_id, content_type, category, n``: what each person read (``Content Viewed``)."""
    joined = events_beside_profiles(wh, rules)
    viewed = joined.filter(joined.event == "Content Viewed")
    props = viewed.properties.cast("json")
    at = viewed.timestamp.coalesce(viewed.original_timestamp, viewed.received_at)
    reads = viewed.select(
        profile_id=viewed.user_profile.coalesce(viewed.anon_profile),
        content_type=props["content_type"].str,
        category=props["category"].str,
        at=at,
    )
    reads = reads.filter(reads.profile_id.notnull())
    if until is not None:
        reads = reads.filter(reads.at < ibis.literal(until).cast("timestamp"))
    grouped = reads.group_by(["profile_id", "content_type", "category"]).agg(
        n=ibis._.count().cast("int64")
    )
    return grouped.to_pyarrow()
