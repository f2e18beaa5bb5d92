"""Person-level paths from the warehouse: each person's touches before each conversion.

One person is one profile (``record_profiles`` / ``profile_identifiers``, the identity
graph), so a click on a phone, a session on a laptop and a store visit join one path.
The facts are attributed to profiles exactly as the profile timeline does it
(``profiles/timeline_store.py``: events by user id, else anonymous id; orders by their
record; deliveries by profile or recipient), then:

- **touches**: an event with a campaign context (UTM) is a touch of the campaign's
  channel (``campaigns.channel`` by name, else its utm medium, else source); message
  clicks arrive that way too (their events carry the campaign), and a ``clicked`` step
  of the delivery log is a touch of its campaign's (else its own) channel; an order with
  a ``campaign_id`` (a coupon, a flyer) is a touch of that campaign's channel; an event
  from a store (``channel = 'store'``: the kiosk) is a ``store`` visit; any other page
  or screen view is ``direct``. Repeats of one channel in a row count once (a session of
  ten page views is one touch).
- **conversions**: every order that is a purchase (not cancelled, refunded...), online
  or in store, with its total as the value.

A touch belongs to the person's next conversion; it counts when it came within
``lookback_days`` before it. Touches after a person's last conversion, within the
lookback before ``until``, make a path that did not convert (a null). Everything up to
the numbering of paths is one Ibis expression (portable; snapshotted for DuckDB and
PostgreSQL), and numpy cuts the sorted rows into a ``PathSet``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.analytics.attribution.paths import PathSet
from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.timeline_store import delivery_rows, event_rows, order_rows
from omnichannel.warehouse import Warehouse

NOT_PURCHASES = ("cancelled", "canceled", "refunded", "failed", "voided")
NOT_TOUCHES = ("Email Opened", "Order Completed")  # an open is an exposure, not a visit
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Window:
    """Conversions in ``[since, until)``; touches up to ``lookback_days`` before each."""

    lookback_days: float
    since: datetime | None = None
    until: datetime | None = None


def campaign_channels(wh: Warehouse) -> ir.Table:
    """``name -> channel`` for campaign names one channel owns, and ``campaign_id -> channel``."""
    c = wh.table("campaigns")
    return c.select(campaign_id=c.campaign_id, name=c.name, campaign_channel=c.channel)


def touch_rows(wh: Warehouse, rules: IdentityRules) -> ir.Table:
    """Every touch: ``profile_id, ts, channel``."""
    camp = campaign_channels(wh)
    by_name = camp.group_by("name").agg(
        by_name=camp.campaign_channel.min(), channels=camp.campaign_channel.nunique()
    )
    by_name = by_name.filter(by_name.channels == 1).drop("channels")
    by_id = camp.select(id_=camp.campaign_id, by_id=camp.campaign_channel)

    e = event_rows(wh, rules)
    e = e.filter(e.type.isin(("page", "screen", "track")), ~e.event.fill_null("").isin(NOT_TOUCHES))
    e = e.left_join(by_name, e.context_campaign_name == by_name.name)
    tagged = e.context_campaign_name.notnull() & (e.context_campaign_name != "")
    event_channel = ibis.cases(
        (tagged, e.by_name.coalesce(e.context_campaign_medium, e.context_campaign_source)),
        (e.channel == "store", ibis.literal("store")),
        (e.type.isin(("page", "screen")), ibis.literal("direct")),
        else_=ibis.null(),
    )
    events = e.select(profile_id=e.profile_id, ts=e.ts, channel=event_channel.cast("string"))

    d = delivery_rows(wh)
    d = d.filter(d.status == "clicked").left_join(by_id, d.campaign_id == by_id.id_)
    clicks = d.select(profile_id=d.profile_id, ts=d.ts, channel=d.by_id.coalesce(d.channel))

    o = order_rows(wh)
    o = o.filter(o.campaign_id.notnull()).left_join(by_id, o.campaign_id == by_id.id_)
    coupons = o.select(profile_id=o.profile_id, ts=o.ts, channel=o.by_id)

    touches = ibis.union(events, clicks, coupons, distinct=False)
    return touches.filter(touches.channel.notnull(), touches.channel != "")


def conversion_rows(wh: Warehouse) -> ir.Table:
    """Every purchase: ``profile_id, ts, value``."""
    o = order_rows(wh)
    o = o.filter(~o.status.fill_null("").lower().isin(NOT_PURCHASES))
    return o.select(profile_id=o.profile_id, ts=o.ts, value=o.total.cast("float64"))


def path_rows(wh: Warehouse, rules: IdentityRules, window: Window, until: datetime) -> ir.Table:
    """Touches with the conversion they lead to: ``profile_id, seq, channel, age_days,
    converted, value``, one row per touch (repeats collapsed), sorted by path then time."""
    lookback = timedelta(days=window.lookback_days)
    earliest = (window.since or datetime(1970, 1, 1)) - lookback
    t = touch_rows(wh, rules)
    c = conversion_rows(wh)
    stream = ibis.union(
        t.select(
            t.profile_id, t.ts, t.channel, is_conv=ibis.literal(0), value=ibis.null("float64")
        ),
        c.select(
            c.profile_id, c.ts, channel=ibis.null("string"), is_conv=ibis.literal(1), value=c.value
        ),
        distinct=False,
    )
    stream = stream.filter(stream.ts >= earliest, stream.ts < until)
    # A touch at the moment of an order came before it (the click that led to it).
    in_time = ibis.window(
        group_by="profile_id",
        order_by=[stream.ts, stream.is_conv],
        preceding=None,
        following=0,
    )
    numbered = stream.mutate(seq=stream.is_conv.sum().over(in_time) - stream.is_conv)
    conv = numbered.filter(numbered.is_conv == 1).select(
        c_profile="profile_id", c_seq="seq", conv_ts="ts", conv_value="value"
    )
    touches = numbered.filter(numbered.is_conv == 0)
    joined = touches.left_join(
        conv, [touches.profile_id == conv.c_profile, touches.seq == conv.c_seq]
    )
    end = joined.conv_ts.coalesce(ibis.literal(until))
    age = (end.epoch_seconds() - joined.ts.epoch_seconds()) / SECONDS_PER_DAY
    rows = joined.select(
        profile_id=joined.profile_id,
        seq=joined.seq,
        ts=joined.ts,
        channel=joined.channel,
        age_days=age.cast("float64"),
        converted=joined.conv_ts.notnull(),
        conv_ts=joined.conv_ts,
        value=joined.conv_value.fill_null(0.0),
    )
    rows = rows.filter(rows.age_days <= window.lookback_days)
    if window.since is not None:
        rows = rows.filter(rows.conv_ts.isnull() | (rows.conv_ts >= window.since))
    in_path = ibis.window(group_by=["profile_id", "seq"], order_by=[rows.ts, rows.channel])
    # The window as a column first: a window inside a filter compiles to SQL PostgreSQL
    # refuses (the filter's subquery loses its table alias).
    rows = rows.mutate(previous=rows.channel.lag().over(in_path))
    rows = rows.filter(rows.previous.isnull() | (rows.previous != rows.channel))
    # A select, not drop(): drop's column order varies run to run in the compiled SQL.
    kept = rows.select("profile_id", "seq", "ts", "channel", "age_days", "converted", "value")
    return kept.order_by(["profile_id", "seq", "ts", "channel"])


def data_end(wh: Warehouse) -> datetime | None:
    """The latest event or order time: where open paths end when no ``until`` is given."""
    e, o = wh.table("events"), wh.table("orders")
    ends = [e.timestamp.max().to_pyarrow().as_py(), o.ordered_at.max().to_pyarrow().as_py()]
    known = [v for v in ends if v is not None]
    return max(known) + timedelta(microseconds=1) if known else None


def person_paths(wh: Warehouse, rules: IdentityRules, window: Window) -> tuple[PathSet, int]:
    """The ``PathSet`` of every person's paths, and how many conversions had no touch."""
    until = window.until or data_end(wh)
    if until is None:
        return _empty(), 0
    table = path_rows(wh, rules, window, until).to_pyarrow()
    paths = paths_of_rows(table)
    c = conversion_rows(wh)
    c = c.filter(c.ts < until)
    if window.since is not None:
        c = c.filter(c.ts >= window.since)
    total = int(c.count().to_pyarrow().as_py())
    return paths, max(total - int(paths.conversions.sum()), 0)


def paths_of_rows(table: pa.Table) -> PathSet:
    """Cut rows sorted by ``(profile_id, seq, ts)`` into paths."""
    if table.num_rows == 0:
        return _empty()
    profile = table["profile_id"].combine_chunks()
    seq = table["seq"].to_numpy()
    new_profile = np.ones(table.num_rows, dtype=bool)
    new_profile[1:] = pc.not_equal(profile[1:], profile[:-1]).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(new_profile | np.r_[True, seq[1:] != seq[:-1]])
    encoded = table["channel"].combine_chunks().dictionary_encode()
    channels = [str(v) for v in encoded.dictionary.to_pylist()]
    order = np.argsort(channels)
    remap = np.empty(len(channels), dtype=np.int32)
    remap[order] = np.arange(len(channels), dtype=np.int32)
    touches = remap[encoded.indices.to_numpy()]
    converted = table["converted"].to_numpy(zero_copy_only=False)[starts].astype(np.float64)
    value = table["value"].to_numpy()[starts]
    return PathSet(
        channels=tuple(sorted(channels)),
        offsets=np.r_[starts, table.num_rows].astype(np.int64),
        touches=touches,
        conversions=converted,
        value=value * converted,
        nulls=1.0 - converted,
        ages=table["age_days"].to_numpy(),
    )


def _empty() -> PathSet:
    return PathSet(
        channels=(),
        offsets=np.zeros(1, dtype=np.int64),
        touches=np.zeros(0, dtype=np.int32),
        conversions=np.zeros(0),
        value=np.zeros(0),
        nulls=np.zeros(0),
        ages=np.zeros(0),
    )


def spend_by_channel(
    wh: Warehouse, since: datetime | None = None, until: datetime | None = None
) -> dict[str, float]:
    """Ad spend per channel over ``[since, until)`` (by the spend's date)."""
    s = wh.table("ad_spend")
    if since is not None:
        s = s.filter(s.date >= since.date())
    if until is not None:
        # A day's spend counts when the day began before ``until``.
        last = (
            until.date()
            if until.time() == datetime.min.time()
            else until.date() + timedelta(days=1)
        )
        s = s.filter(s.date < last)
    totals = s.group_by("channel").agg(spend=s.spend.sum().cast("float64")).to_pyarrow()
    return {
        str(c): float(v)
        for c, v in zip(totals["channel"].to_pylist(), totals["spend"].to_pylist(), strict=True)
        if c is not None and v is not None
    }
