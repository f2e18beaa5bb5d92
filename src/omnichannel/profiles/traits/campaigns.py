"""Last campaign touched: the latest of a tagged visit, a campaign order and a message sent.

Three kinds of touch, each with its time:

- an event carrying ``context_campaign_name`` (a UTM-tagged visit or a message click);
- an order with a ``campaign_id`` (coupon, flyer, campaign link);
- a delivery (a message of a campaign sent to the person and not failed).

Campaign names and ids are matched through the ``campaigns`` table, so the trait has both
when the campaign is known there. Ties in time prefer the order, then the visit.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from omnichannel.profiles.traits.base import Members
from omnichannel.warehouse import Warehouse


def campaign_traits(wh: Warehouse, m: Members) -> ir.Table:
    campaigns = wh.table("campaigns").select("campaign_id", "name")
    e = m.events.filter(m.events.campaign_name.notnull() & (m.events.campaign_name != ""))
    visits = e.select(
        "profile_id",
        at=e.ts,
        campaign_id=ibis.null(str),
        name=e.campaign_name,
        via=ibis.literal("event"),
        rank=ibis.literal(1),
    )
    o = m.orders.filter(m.orders.campaign_id.notnull() & (m.orders.campaign_id != ""))
    orders = o.select(
        "profile_id",
        at=o.ordered_at,
        campaign_id=o.campaign_id,
        name=ibis.null(str),
        via=ibis.literal("order"),
        rank=ibis.literal(0),
    )
    d = m.deliveries.filter(m.deliveries.campaign_id.notnull())
    sent = d.select(
        "profile_id",
        at=d.at,
        campaign_id=d.campaign_id,
        name=ibis.null(str),
        via=ibis.literal("delivery"),
        rank=ibis.literal(2),
    )
    touches = ibis.union(visits, orders, sent, distinct=False)
    ranked = touches.mutate(
        _n=ibis.row_number().over(
            group_by="profile_id", order_by=[ibis.desc(touches.at), touches.rank]
        )
    )
    last = ranked.filter(ranked._n == 0)
    by_id = campaigns.rename(id_name="name", known_id="campaign_id")
    # A name reused by several campaigns names none of them: its id stays empty.
    names = campaigns.group_by("name").agg(
        named_id=campaigns.campaign_id.min(), n=campaigns.count()
    )
    by_name = names.filter(names.n == 1).select("named_id", known_name="name")
    named = last.left_join(by_id, last.campaign_id == by_id.known_id).left_join(
        by_name, last.name == by_name.known_name
    )
    return named.select(
        "profile_id",
        last_campaign=named.name.coalesce(named.id_name, named.campaign_id),
        last_campaign_id=named.campaign_id.coalesce(named.named_id),
        last_campaign_at=named.at,
        last_campaign_via=named.via,
    )
