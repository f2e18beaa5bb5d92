"""One row per person at a cut-off: what they did before it, and what happened after.

Every figure is computed by Ibis in the engine from facts attributed to profiles as the
profile build attributes them (``profiles.traits.base``): events by user id then
anonymous id, orders through the identity graph, messages by profile or recipient.
``features_at(facts, cutoff)`` reads only what happened *before* ``cutoff``;
``labels_at(facts, cutoff, days)`` only what happened in ``[cutoff, cutoff + days)``,
so a model trained on an earlier cut-off and scored on a later one never sees its
answer (``train.py``).

Features (days are whole days before the cut-off; NULL when there is nothing to count):

- recency: ``days_since_order``, ``days_since_visit``;
- frequency and money: ``orders``, ``orders_90d``, ``revenue``, ``average_order_value``;
- tenure: ``tenure_days`` since the first event or order;
- where: ``store_share`` of orders bought in a store, ``app_share`` of visits in the app
  or the WeChat mini-program, ``channels_used`` (visits and orders);
- recent behaviour: ``visit_days_30d`` (days with a visit), ``views_30d``, ``carts_30d``;
- messages: ``messages_90d`` sent, ``email_opens_90d``, ``email_clicks_90d``;
- CLV: ``expected_purchases_30d`` of a BG/NBD model fitted on the orders before the
  cut-off (the CLV model of ``profiles.clv``; NULL when it cannot be fitted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from omnichannel.identity.components import Scratch
from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.traits.base import (
    OFFLINE_CHANNELS,
    attributed_deliveries,
    attributed_events,
    attributed_orders,
)
from omnichannel.warehouse import Warehouse

FEATURES = (
    "days_since_order",
    "days_since_visit",
    "orders",
    "orders_90d",
    "revenue",
    "average_order_value",
    "tenure_days",
    "store_share",
    "app_share",
    "channels_used",
    "visit_days_30d",
    "views_30d",
    "carts_30d",
    "messages_90d",
    "email_opens_90d",
    "email_clicks_90d",
    "expected_purchases_30d",
)
# Events that are a person browsing (not our messages, identify calls or segment changes).
BROWSE_EVENTS = (
    "Product Viewed",
    "Product Clicked",
    "Product Added",
    "Products Searched",
    "Content Viewed",
    "Checkout Started",
)
APP_CHANNELS = ("app", "wechat")
DAY_SECONDS = 86400.0


@dataclass
class Facts:
    """Events, orders and messages attributed to profiles, materialised once per run."""

    visits: ir.Table  # profile_id, ts, event, channel
    orders: ir.Table  # profile_id, ordered_at, channel, total (float)
    messages: ir.Table  # profile_id, at
    opens: ir.Table  # profile_id, ts, event (Email Opened / Email Link Clicked)


def read_facts(wh: Warehouse, rules: IdentityRules, tmp: Scratch) -> Facts:
    """The attributed facts of every profile, kept as temporary tables of ``tmp``."""
    events = attributed_events(wh, rules)
    browsing = (events.type.isin(["page", "screen"])) | events.event.isin(list(BROWSE_EVENTS))
    visits = events.filter(browsing, events.channel != "server").select(
        "profile_id", "ts", "event", "channel"
    )
    opens = events.filter(events.event.isin(["Email Opened", "Email Link Clicked"])).select(
        "profile_id", "ts", "event"
    )
    o = attributed_orders(wh)
    orders = o.select("profile_id", "ordered_at", "channel", total=o.total.cast("float64"))
    d = attributed_deliveries(wh)
    return Facts(
        visits=tmp.keep(visits),
        orders=tmp.keep(orders),
        messages=tmp.keep(d.select("profile_id", "at")),
        opens=tmp.keep(opens),
    )


def data_end(facts: Facts, *, horizon_days: int = 30) -> datetime:
    """The end of the active history: the last order day whose trailing ``horizon_days``
    (30 at least) hold at least a quarter of the orders of a usual window (the median window).

    A trickle after a long gap (a demo's history ends in June, its journeys ran today)
    would otherwise put every cut-off in the gap, where nobody buys.
    """
    o = facts.orders
    daily = o.group_by(day=o.ordered_at.date()).agg(n=o.count()).to_pandas()
    if daily.empty:
        raise LookupError("no orders attributed to profiles")
    days = pd.to_datetime(daily["day"])
    counts = pd.Series(daily["n"].to_numpy(dtype=float), index=days).sort_index()
    full = counts.resample("D").sum()
    # At least 30 days, so a few days' trickle after a gap is never a window of its own.
    trailing = full.rolling(max(horizon_days, 30), min_periods=1).sum()
    # The usual window: the median of the windows ending on a day with orders.
    usual = float(trailing[full > 0].median())
    ok = trailing[(trailing >= 0.25 * usual) & (full > 0)]
    last = ok.index.max() if len(ok) else full.index.max()
    return (pd.Timestamp(last) + pd.Timedelta(days=1)).to_pydatetime()


def data_start(facts: Facts) -> datetime:
    value = facts.orders.ordered_at.min().to_pyarrow().as_py()
    if value is None:
        raise LookupError("no orders attributed to profiles")
    return value


def _days_before(ts: ir.TimestampValue, cut: ir.TimestampValue) -> ir.FloatingValue:
    return (cut.epoch_seconds() - ts.epoch_seconds()).cast("float64") / DAY_SECONDS


def features_at(facts: Facts, cutoff: datetime) -> pd.DataFrame:
    """``profile_id`` plus ``FEATURES``, one row per person seen before ``cutoff``."""
    cut = ibis.literal(cutoff).cast("timestamp")
    d90 = ibis.literal(cutoff - timedelta(days=90)).cast("timestamp")
    d30 = ibis.literal(cutoff - timedelta(days=30)).cast("timestamp")

    o = facts.orders.filter(facts.orders.ordered_at < cut)
    orders = o.group_by("profile_id").agg(
        orders=o.count(),
        orders_90d=(o.ordered_at >= d90).ifelse(1, 0).sum(),
        revenue=o.total.sum(),
        last_order=o.ordered_at.max(),
        first_order=o.ordered_at.min(),
        store_orders=o.channel.isin(list(OFFLINE_CHANNELS)).ifelse(1, 0).sum(),
        order_channels=o.channel.nunique(),
    )
    v = facts.visits.filter(facts.visits.ts < cut)
    recent = v.ts >= d30
    visits = v.group_by("profile_id").agg(
        visits=v.count(),
        last_visit=v.ts.max(),
        first_visit=v.ts.min(),
        app_visits=v.channel.isin(list(APP_CHANNELS)).ifelse(1, 0).sum(),
        visit_channels=v.channel.nunique(),
        visit_days_30d=ibis.ifelse(recent, v.ts.date(), ibis.null("date")).nunique(),
        views_30d=(recent & (v.event == "Product Viewed")).ifelse(1, 0).sum(),
        carts_30d=(recent & (v.event == "Product Added")).ifelse(1, 0).sum(),
    )
    m = facts.messages.filter(facts.messages.at < cut, facts.messages.at >= d90)
    messages = m.group_by("profile_id").agg(messages_90d=m.count())
    e = facts.opens.filter(facts.opens.ts < cut, facts.opens.ts >= d90)
    opens = e.group_by("profile_id").agg(
        email_opens_90d=(e.event == "Email Opened").ifelse(1, 0).sum(),
        email_clicks_90d=(e.event == "Email Link Clicked").ifelse(1, 0).sum(),
    )
    people = orders.select("profile_id").union(visits.select("profile_id"), distinct=True)
    joined = (
        people.left_join(orders, "profile_id")
        .select(~ibis.selectors.endswith("_right"))
        .left_join(visits, "profile_id")
        .select(~ibis.selectors.endswith("_right"))
        .left_join(messages, "profile_id")
        .select(~ibis.selectors.endswith("_right"))
        .left_join(opens, "profile_id")
        .select(~ibis.selectors.endswith("_right"))
    )
    first = ibis.least(
        joined.first_order.coalesce(joined.first_visit),
        joined.first_visit.coalesce(joined.first_order),
    )
    n_orders = joined.orders.coalesce(0)
    n_visits = joined.visits.coalesce(0)
    out = joined.select(
        "profile_id",
        days_since_order=_days_before(joined.last_order, cut),
        days_since_visit=_days_before(joined.last_visit, cut),
        orders=n_orders.cast("float64"),
        orders_90d=joined.orders_90d.coalesce(0).cast("float64"),
        revenue=joined.revenue.coalesce(0.0),
        average_order_value=ibis.ifelse(
            n_orders > 0, joined.revenue / n_orders.cast("float64"), ibis.null("float64")
        ),
        tenure_days=_days_before(first, cut),
        store_share=ibis.ifelse(
            n_orders > 0, joined.store_orders / n_orders.cast("float64"), ibis.null("float64")
        ),
        app_share=ibis.ifelse(
            n_visits > 0, joined.app_visits / n_visits.cast("float64"), ibis.null("float64")
        ),
        channels_used=(joined.order_channels.coalesce(0) + joined.visit_channels.coalesce(0)).cast(
            "float64"
        ),
        visit_days_30d=joined.visit_days_30d.coalesce(0).cast("float64"),
        views_30d=joined.views_30d.coalesce(0).cast("float64"),
        carts_30d=joined.carts_30d.coalesce(0).cast("float64"),
        messages_90d=joined.messages_90d.coalesce(0).cast("float64"),
        email_opens_90d=joined.email_opens_90d.coalesce(0).cast("float64"),
        email_clicks_90d=joined.email_clicks_90d.coalesce(0).cast("float64"),
    )
    frame: pd.DataFrame = out.order_by("profile_id").to_pandas()
    frame["expected_purchases_30d"] = _expected_purchases(facts, cutoff, frame["profile_id"])
    frame = frame.set_index("profile_id")
    return frame[list(FEATURES)].astype("float64")


def labels_at(facts: Facts, cutoff: datetime, days: int) -> pd.DataFrame:
    """Per profile active in ``[cutoff, cutoff + days)``: ``bought`` (an order) and
    ``active`` (an order or a visit); people absent from it did neither."""
    start = ibis.literal(cutoff).cast("timestamp")
    end = ibis.literal(cutoff + timedelta(days=days)).cast("timestamp")
    o = facts.orders.filter(facts.orders.ordered_at >= start, facts.orders.ordered_at < end)
    v = facts.visits.filter(facts.visits.ts >= start, facts.visits.ts < end)
    bought = o.select("profile_id", bought=ibis.literal(1))
    visited = v.select("profile_id", bought=ibis.literal(0))
    both = bought.union(visited)
    per = both.group_by("profile_id").agg(bought=both.bought.max())
    frame: pd.DataFrame = per.to_pandas().set_index("profile_id")
    frame["active"] = 1
    return frame


def _expected_purchases(facts: Facts, cutoff: datetime, people: pd.Series) -> np.ndarray:
    """BG/NBD's expected purchases in the 30 days after ``cutoff`` (NaN where unfitted)."""
    from omnichannel.profiles.clv import FitError, bgnbd

    out = np.full(len(people), np.nan)
    o = facts.orders.filter(facts.orders.ordered_at < ibis.literal(cutoff).cast("timestamp"))
    daily = o.group_by(["profile_id", o.ordered_at.date().name("day")]).agg(n=o.count())
    per = daily.group_by("profile_id").agg(
        days=daily.count(), first=daily.day.min(), last=daily.day.max()
    )
    summary: pd.DataFrame = per.to_pandas()
    if len(summary) < 10 or int((summary["days"] > 1).sum()) < 5:
        return out
    end = pd.Timestamp(cutoff.date())
    first = pd.to_datetime(summary["first"])
    last = pd.to_datetime(summary["last"])
    x = (summary["days"].astype("int64") - 1).to_numpy(dtype=float)
    t_x = ((last - first).dt.days / 7).to_numpy(dtype=float)
    age = ((end - first).dt.days / 7).to_numpy(dtype=float)
    try:
        with np.errstate(all="ignore"):
            params = bgnbd.fit(x, t_x, age)
            expected = bgnbd.conditional_expected_purchases(params, 30 / 7, x, t_x, age)
    except (FitError, ValueError, FloatingPointError):
        return out
    values: dict[Any, float] = dict(zip(summary["profile_id"], expected, strict=True))
    for i, pid in enumerate(people):
        value = values.get(pid)
        if value is not None and np.isfinite(value):
            out[i] = float(value)
    return out
