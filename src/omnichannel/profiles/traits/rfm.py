"""Purchase traits: orders and revenue online vs offline, AOV, interval, RFM scores and segment.

Scores are quintiles 1-5 over the profiles that bought, from ``percent_rank`` so that
tied values share a score and land in the lowest quintile their rank reaches (with plain
``ntile`` two people with one order each could get different F scores). Recency is
scored so that the most recent buyers get 5.

The segment is the widely used 11-segment map on the R and F scores (the M score is
kept as a trait but, as in that map, does not change the segment):

=============  ==================================
R  \\  F       1     2      3        4        5
=============  ==================================
5              new   pot.l  pot.l    champ.   champ.
4              prom. pot.l  pot.l    loyal    loyal
3              sleep sleep  attn     loyal    loyal
2              hib.  hib.   at risk  at risk  can't lose
1              hib.  hib.   at risk  at risk  can't lose
=============  ==================================

Profiles without an order are ``prospect``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from omnichannel.profiles.traits.base import OFFLINE_CHANNELS, Members

SECONDS_PER_DAY = 86_400
# (r_scores, f_scores) -> segment; the 25 cells are covered exactly once.
SEGMENTS: tuple[tuple[tuple[int, ...], tuple[int, ...], str], ...] = (
    ((5,), (4, 5), "champions"),
    ((3, 4), (4, 5), "loyal customers"),
    ((4, 5), (2, 3), "potential loyalists"),
    ((5,), (1,), "new customers"),
    ((4,), (1,), "promising"),
    ((3,), (3,), "need attention"),
    ((3,), (1, 2), "about to sleep"),
    ((1, 2), (5,), "can't lose them"),
    ((1, 2), (3, 4), "at risk"),
    ((1, 2), (1, 2), "hibernating"),
)
PROSPECT = "prospect"
SEGMENT_NAMES = (*(name for _, _, name in SEGMENTS), PROSPECT)


def purchase_traits(m: Members) -> ir.Table:
    """One row per buying profile: counts, revenue split, AOV, dates, interval, recency."""
    o = m.orders
    offline = o.channel.isin(OFFLINE_CHANNELS)
    zero = ibis.literal(0).cast("decimal(18, 2)")
    agg = o.group_by("profile_id").agg(
        orders=o.order_id.count(),
        revenue=o.total.sum(),
        orders_offline=offline.ifelse(1, 0).sum(),
        revenue_offline=offline.ifelse(o.total, zero).sum(),
        first_order_at=o.ordered_at.min(),
        last_order_at=o.ordered_at.max(),
    )
    span_days = (
        agg.last_order_at.epoch_seconds() - agg.first_order_at.epoch_seconds()
    ) / SECONDS_PER_DAY
    as_of = ibis.literal(m.as_of).cast("timestamp")
    recency = (as_of.epoch_seconds() - agg.last_order_at.epoch_seconds()) / SECONDS_PER_DAY
    return agg.select(
        "profile_id",
        orders=agg.orders.cast("int64"),
        revenue=agg.revenue.cast("decimal(18, 2)"),
        orders_online=(agg.orders - agg.orders_offline).cast("int64"),
        orders_offline=agg.orders_offline.cast("int64"),
        revenue_online=(agg.revenue - agg.revenue_offline).cast("decimal(18, 2)"),
        revenue_offline=agg.revenue_offline.cast("decimal(18, 2)"),
        average_order_value=(agg.revenue.cast("float64") / agg.orders).round(2),
        first_order_at=agg.first_order_at,
        last_order_at=agg.last_order_at,
        # Whole days since the last order, as of the build's clock (never negative).
        recency_days=ibis.greatest(recency.floor(), 0).cast("int64"),
        mean_purchase_interval_days=ibis.ifelse(
            agg.orders > 1, (span_days / (agg.orders - 1)).round(2), ibis.null("float64")
        ),
    )


def quintile(order_by: ir.Value) -> ir.IntegerValue:
    """1-5 from the percent rank; ties share the lowest score their rank reaches."""
    rank = ibis.percent_rank().over(order_by=order_by)
    # The epsilon keeps 0.6 * 5 = 2.9999... from dropping a whole score.
    return ibis.least((rank * 5 + 1e-9).floor() + 1, 5).cast("int32")


def rfm_scores(purchases: ir.Table) -> ir.Table:
    """R, F, M scores and the segment label for every buying profile."""
    scored = purchases.select(
        "profile_id",
        r_score=quintile(ibis.desc(purchases.recency_days)),
        f_score=quintile(purchases.orders),
        m_score=quintile(purchases.revenue),
    )
    return scored.mutate(rfm_segment=segment(scored.r_score, scored.f_score))


def segment(r: ir.IntegerValue, f: ir.IntegerValue) -> ir.StringValue:
    """The segment of an (R, F) pair; NULL scores (no orders) are prospects."""
    cases = [(r.isin(rs) & f.isin(fs), name) for rs, fs, name in SEGMENTS]
    return ibis.cases(*cases, else_=ibis.literal(PROSPECT))


def segment_of(r: int, f: int) -> str:
    """The same map in Python, for documentation and tests."""
    for rs, fs, name in SEGMENTS:
        if r in rs and f in fs:
            return name
    return PROSPECT
