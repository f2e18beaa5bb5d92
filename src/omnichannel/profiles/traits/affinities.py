"""Category and content-type affinity: what a person looks at and buys, weighted.

Category weight per person = 1 per product view + ``ADD_WEIGHT`` per add-to-cart +
``PURCHASE_WEIGHT`` per unit bought (an order's lines, matched on source and order id,
joined to the catalogue's category), so a purchase says more than a glance. Content-type
weight = 1 per ``Content Viewed`` event, its type read from the event's ``content_type``
property or, when missing, from ``content_items`` by ``content_id``. A score is the
weight's share of the person's total for that kind (scores of a kind sum to 1).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from omnichannel.profiles.traits.base import Members, json_object, top_value
from omnichannel.warehouse import Warehouse

VIEW_WEIGHT = 1.0
ADD_WEIGHT = 2.0
PURCHASE_WEIGHT = 5.0
CATEGORY = "category"
CONTENT_TYPE = "content_type"


def affinity_weights(wh: Warehouse, m: Members) -> ir.Table:
    """Long form ``profile_id, kind, value, weight, score`` (written to ``profile_affinities``)."""
    e = m.events
    viewed = e.filter(e.category.notnull() & (e.category != ""))
    views = viewed.select(
        "profile_id",
        kind=ibis.literal(CATEGORY),
        value=viewed.category,
        weight=ibis.ifelse(viewed.event == "Product Added", ADD_WEIGHT, VIEW_WEIGHT),
    )
    lines = wh.table("order_lines")
    products = wh.table("products").select("product_id", "category")
    # An order is (source, order_id): two sources may both have an order 1001, and each
    # order's lines are only those its own source sent.
    bought = (
        m.orders.select("profile_id", "source", "order_id")
        .join(lines.select("source", "order_id", "product_id", "quantity"), ["source", "order_id"])
        .join(products, "product_id")
    )
    bought = bought.filter(bought.category.notnull())
    purchases = bought.select(
        "profile_id",
        kind=ibis.literal(CATEGORY),
        value=bought.category,
        weight=bought.quantity.coalesce(1).cast("float64") * PURCHASE_WEIGHT,
    )
    content = e.filter(e.event.isin(("Content Viewed",)))
    items = wh.table("content_items").select("content_id", item_type="content_type")
    content = content.left_join(items, content.content_id == items.content_id)
    typed = content.mutate(value=content.content_type.coalesce(content.item_type))
    typed = typed.filter(typed.value.notnull() & (typed.value != ""))
    reads = typed.select(
        "profile_id", kind=ibis.literal(CONTENT_TYPE), value=typed.value, weight=VIEW_WEIGHT
    )
    all_rows = ibis.union(views, purchases, reads, distinct=False)
    summed = all_rows.group_by(["profile_id", "kind", "value"]).agg(weight=all_rows.weight.sum())
    total = summed.weight.sum().over(group_by=["profile_id", "kind"])
    return summed.mutate(
        weight=summed.weight.cast("float64"), score=(summed.weight / total).cast("float64")
    )


def affinity_traits(weights: ir.Table) -> ir.Table:
    """Top category and content type, and each kind's scores as a JSON object."""
    parts = []
    for kind, top_name, map_name in (
        (CATEGORY, "top_category", "category_affinity"),
        (CONTENT_TYPE, "top_content_type", "content_type_affinity"),
    ):
        w = weights.filter(weights.kind == kind)
        top = top_value(w, "value", "weight").select("profile_id", **{top_name: "value"})
        score_text = w.score.round(3).cast("string")
        mapping = w.group_by("profile_id").agg(
            **{map_name: json_object(w, w.value, score_text, ibis.desc(w.score))}
        )
        parts.append(top.join(mapping, "profile_id"))
    cat, cnt = parts
    joined = cat.outer_join(cnt, "profile_id")
    return joined.select(
        profile_id=cat.profile_id.coalesce(cnt.profile_id),
        top_category=cat.top_category,
        category_affinity=cat.category_affinity,
        top_content_type=cnt.top_content_type,
        content_type_affinity=cnt.content_type_affinity,
    )
