"""Preferred channel: where a person engages most (events) and where they buy most (orders).

Engagement counts every attributed event by its ``channel`` (``source`` when the channel
is empty). Purchase counts orders by channel; a tie goes to the channel with more
revenue, then to the alphabetically first, so the answer is deterministic.
"""

from __future__ import annotations

import ibis.expr.types as ir

from omnichannel.profiles.traits.base import Members, top_value


def engagement_channel(m: Members) -> ir.Table:
    g = m.event_groups
    counts = g.group_by(["profile_id", "channel"]).agg(n=g.n.sum())
    top = top_value(counts, "channel", "n")
    return top.select("profile_id", preferred_channel_engagement=top.channel)


def purchase_channel(m: Members) -> ir.Table:
    o = m.orders
    counts = o.group_by(["profile_id", "channel"]).agg(n=o.count(), revenue=o.total.sum())
    top = top_value(counts, "channel", "n", tie_break=("revenue",))
    return top.select("profile_id", preferred_channel_purchase=top.channel)
