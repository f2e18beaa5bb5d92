"""What budget reads from the warehouse, by Ibis: spend per channel and campaign from
``ad_spend``, purchases from ``orders`` (by their ``campaign_id``, whose channel is the
campaign's in ``ad_spend``). Every window is of dates, ``[since, until)``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from omnichannel.warehouse import Warehouse

NOT_PURCHASES = ("cancelled", "canceled", "refunded", "failed", "voided")
PERIOD_DAYS = {"day": 1, "week": 7}


def last_spend_date(wh: Warehouse) -> date | None:
    s = wh.table("ad_spend")
    value = s.aggregate(last=s.date.max()).to_pyarrow()["last"][0].as_py()
    return value if isinstance(value, date) else None


def spend_by_channel(wh: Warehouse, since: date, until: date) -> dict[str, float]:
    s = wh.table("ad_spend")
    s = s.filter((s.date >= since) & (s.date < until))
    rows = s.group_by("channel").agg(spend=s.spend.sum().cast("float64")).to_pyarrow()
    return {
        str(c): float(v or 0.0)
        for c, v in zip(rows["channel"].to_pylist(), rows["spend"].to_pylist(), strict=True)
        if c is not None
    }


def current_spend(
    wh: Warehouse, *, period: str, days: int, until: date | None = None
) -> tuple[dict[str, float], date | None, date | None]:
    """Average spend per period and channel over the ``days`` before ``until`` (default:
    the day after the last spend), and that window."""
    end = until or last_spend_date(wh)
    if end is None:
        return {}, None, None
    if until is None:
        end = end + timedelta(days=1)
    start = end - timedelta(days=days)
    periods = days / PERIOD_DAYS[period]
    totals = spend_by_channel(wh, start, end)
    return {c: v / periods for c, v in totals.items()}, start, end


def _purchases(wh: Warehouse, since: date, until: date) -> Any:
    o = wh.table("orders")
    start = datetime.combine(since, datetime.min.time())
    end = datetime.combine(until, datetime.min.time())
    return o.filter((o.ordered_at >= start) & (o.ordered_at < end) & ~o.status.isin(NOT_PURCHASES))


def _campaign_channel(wh: Warehouse) -> Any:
    s = wh.table("ad_spend")
    return s.group_by("campaign_id").agg(
        campaign_channel=s.channel.max(), campaign_name=s.campaign_name.max()
    )


def campaign_arms(wh: Warehouse, channel: str, since: date, until: date) -> list[dict[str, Any]]:
    """Per campaign of ``channel`` with spend in the window: spend, clicks, impressions,
    purchases and revenue tagged with it, and its spend on the window's last day."""
    s = wh.table("ad_spend")
    s = s.filter((s.channel == channel) & (s.date >= since) & (s.date < until))
    spend = s.group_by("campaign_id").agg(
        name=s.campaign_name.max(),
        spend=s.spend.sum().cast("float64"),
        clicks=s.clicks.sum(),
        impressions=s.impressions.sum(),
        last_day=s.date.max(),
    )
    last = s.filter(s.date == s.date.max().over())
    yesterday = last.group_by("campaign_id").agg(yesterday=last.spend.sum().cast("float64"))
    o = _purchases(wh, since, until)
    bought = o.group_by("campaign_id").agg(
        conversions=o.count(), revenue=o.total.sum().cast("float64")
    )
    joined = spend.left_join(bought, "campaign_id").left_join(yesterday, "campaign_id")
    table = joined.select(
        spend.campaign_id,
        spend.name,
        spend.spend,
        spend.clicks,
        spend.impressions,
        joined.conversions,
        joined.revenue,
        joined.yesterday,
    ).order_by("campaign_id")
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    for row in rows:
        row["conversions"] = int(row["conversions"] or 0)
        row["revenue"] = float(row["revenue"] or 0.0)
        row["yesterday"] = float(row["yesterday"] or 0.0)
    return rows


def actuals(wh: Warehouse, since: date, until: date) -> dict[str, Any]:
    """What happened in the window: spend per channel, purchases and revenue in all and
    per channel of the campaign they are tagged with."""
    o = _purchases(wh, since, until)
    totals = o.aggregate(orders=o.count(), revenue=o.total.sum().cast("float64")).to_pyarrow()
    tagged = o.filter(o.campaign_id.notnull())
    owners = _campaign_channel(wh)
    per = tagged.join(owners, "campaign_id")
    grouped = per.group_by(per.campaign_channel).agg(
        orders=per.count(), revenue=per.total.sum().cast("float64")
    )
    by_channel = {
        str(r["campaign_channel"]): {
            "orders": int(r["orders"]),
            "revenue": float(r["revenue"] or 0),
        }
        for r in grouped.to_pyarrow().to_pylist()
    }
    return {
        "spend": spend_by_channel(wh, since, until),
        "orders": int(totals["orders"][0].as_py() or 0),
        "revenue": float(totals["revenue"][0].as_py() or 0.0),
        "by_channel": by_channel,
    }
