"""The one Ibis expression every KPI set is read from: base measures per group and period.

Each fact becomes a row ``ts, measure, channel, campaign, content, profile_id, n, value``:

- **deliveries** (the delivery log): a message's first sent or delivered step is a
  ``send`` (a message is its ``outbox_id``, else provider id, else delivery id), for the
  delivery's channel, campaign and template (the content);
- **events**: opens, clicks, shares, interactions and reservations by event name
  (``catalogue``), and page or screen views with a campaign (UTM) context as ``visit``.
  An event's campaign is the ``campaigns`` row of its ``utm_campaign`` name, else its
  ``properties.campaign_id``, else the name itself; its channel is that campaign's
  channel, else its utm medium, else its utm source, else the event's channel; its
  content is ``utm_content``;
- **ad_spend**: a day's ``impression`` (n = impressions), ``click`` (n = clicks) and
  ``spend`` (value = spend) per channel and campaign;
- **orders**: every order an ``order``, every purchase a ``deal`` (value = total), the
  first purchase of each profile ever a ``new_customer`` and, where the profile has one,
  its predicted CLV a ``clv``. An order's campaign is its ``campaign_id`` (a coupon, a
  flyer), else the campaign of the ``Order Completed`` event naming the same order id;
  orders with neither have no campaign and no marketing channel (they still count in
  totals);
- **reach**: the people of sends, clicks and visits.

Rows then aggregate per measure, chosen dimensions and period: ``n`` summed, ``value``
and its square summed (the noise tests need them), and distinct ``people`` of the
measures a KPI counts people of (``PEOPLE_MEASURES``; 0 for the others).

Only the measures the asked KPIs read are built (``measures``): a CTR reads no orders,
and revenue no delivery log, so neither is scanned nor compiled for it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from omnichannel.analytics.kpis.catalogue import (
    CLICK_EVENTS,
    INTERACTION_EVENTS,
    NOT_PURCHASES,
    OPEN_EVENTS,
    PEOPLE_MEASURES,
    PERIODS,
    RESERVATION_EVENTS,
    SENT_STATUSES,
    SHARE_EVENTS,
)
from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.traits.base import events_beside_profiles, linked_identifiers
from omnichannel.warehouse import Warehouse

COLUMNS = ("ts", "measure", "channel", "campaign", "content", "profile_id", "n", "value")
EVENT_MEASURES = {
    "open": OPEN_EVENTS,
    "click": CLICK_EVENTS,
    "share": SHARE_EVENTS,
    "interaction": INTERACTION_EVENTS,
    "reservation": RESERVATION_EVENTS,
}
# The facts whose people are the reach.
REACH_OF = ("send", "click", "visit")
ALL_MEASURES = frozenset(
    {*EVENT_MEASURES, "visit", "send", "impression", "spend"}
    | {"order", "deal", "new_customer", "clv", "reach"}
)


@dataclass(frozen=True)
class Query:
    """What a KPI set is asked over: ``[since, until)``, grouped by ``by`` and ``period``."""

    since: datetime | None = None
    until: datetime | None = None
    by: tuple[str, ...] = ()
    period: str | None = None
    channel: str | None = None
    campaign: str | None = None
    # Only people in this set count towards reach_in_segment (audience coverage).
    segment: str | None = None


def _row(
    ts: ir.Value,
    measure: str,
    channel: ir.Value | None = None,
    campaign: ir.Value | None = None,
    content: ir.Value | None = None,
    profile_id: ir.Value | None = None,
    n: ir.Value | int = 1,
    value: ir.Value | None = None,
) -> dict[str, ir.Value]:
    def s(v: ir.Value | None) -> ir.Value:
        return (ibis.null() if v is None else v).cast("string")

    return {
        "ts": ts.cast("timestamp"),
        "measure": ibis.literal(measure),
        "channel": s(channel),
        "campaign": s(campaign),
        "content": s(content),
        "profile_id": s(profile_id),
        "n": (ibis.literal(n) if isinstance(n, int) else n).cast("int64"),
        "value": (ibis.null() if value is None else value).cast("float64"),
    }


def _campaigns(wh: Warehouse) -> tuple[ir.Table, ir.Table]:
    """``by_name``: names one campaign owns -> id and channel; ``by_id``: id -> channel."""
    c = wh.table("campaigns")
    by_name = c.group_by("name").agg(
        name_id=c.campaign_id.min(), name_channel=c.channel.min(), ids=c.campaign_id.nunique()
    )
    by_name = by_name.filter(by_name.ids == 1).select("name", "name_id", "name_channel")
    by_id = c.select(id_=c.campaign_id, id_channel=c.channel)
    return by_name, by_id


def event_facts(
    wh: Warehouse, rules: IdentityRules, measures: Collection[str] = ALL_MEASURES
) -> ir.Table:
    """The event measures among ``measures`` (opens, clicks, ..., visits)."""
    by_name, by_id = _campaigns(wh)
    e = events_beside_profiles(wh, rules)
    named = e.event.fill_null("")
    tagged = e.context_campaign_name.notnull() & (e.context_campaign_name != "")
    names = [n for m, events in EVENT_MEASURES.items() if m in measures for n in events]
    wanted: ir.BooleanValue = named.isin(names) if names else ibis.literal(False)
    if "visit" in measures:
        wanted |= e.type.isin(("page", "screen")) & tagged
    e = e.filter(wanted)
    props = e.properties.cast("json")
    e = e.mutate(
        _pid=e.user_profile.coalesce(e.anon_profile),
        _ts=e.timestamp.coalesce(e.original_timestamp, e.received_at),
        _prop_campaign=props["campaign_id"].unwrap_as("string"),
        _prop_delivery=props["delivery_id"].unwrap_as("string"),
    )
    e = e.left_join(by_name, e.context_campaign_name == by_name.name)
    campaign = e.name_id.coalesce(e._prop_campaign, e.context_campaign_name)
    e = e.mutate(_campaign=campaign)
    e = e.left_join(by_id, e._campaign == by_id.id_)
    channel = e.id_channel.coalesce(
        e.name_channel, e.context_campaign_medium, e.context_campaign_source, e.channel
    )
    name = e.event.fill_null("")
    measure = ibis.cases(
        (name.isin(OPEN_EVENTS), "open"),
        (name.isin(CLICK_EVENTS), "click"),
        (name.isin(SHARE_EVENTS), "share"),
        (name.isin(INTERACTION_EVENTS), "interaction"),
        (name.isin(RESERVATION_EVENTS), "reservation"),
        else_="visit",
    )
    rows = e.select(
        ts=e._ts,
        measure=measure,
        channel=channel.cast("string"),
        campaign=campaign.cast("string"),
        content=e.context_campaign_content,
        profile_id=e._pid,
        n=ibis.literal(1).cast("int64"),
        value=ibis.null().cast("float64"),
        # One open per message: the message's delivery id when the open names it.
        key=ibis.ifelse(measure == "open", e._prop_delivery.coalesce(e.message_id), e.message_id),
    )
    # An open of one message counted once (Mail Privacy Protection opens everything again).
    first = rows.group_by(["measure", "key"]).agg(
        ts=rows.ts.min(),
        channel=rows.channel.min(),
        campaign=rows.campaign.min(),
        content=rows.content.min(),
        profile_id=rows.profile_id.min(),
    )
    cols = _row(first.ts, "", first.channel, first.campaign, first.content, first.profile_id)
    return first.select(**{**cols, "measure": first.measure})


def delivery_facts(wh: Warehouse) -> ir.Table:
    d = wh.table("deliveries")
    d = d.filter(d.status.isin(SENT_STATUSES))
    ids = linked_identifiers(wh).group_by("id_value").agg(found=lambda t: t.profile_id.min())
    d = d.left_join(ids, d.recipient.strip() == ids.id_value)
    key = d.outbox_id.cast("string").coalesce(d.provider_message_id, d.delivery_id)
    d = d.mutate(
        _key=key,
        _ts=d.at.coalesce(d.sent_at, d.queued_at),
        _pid=d.profile_id.coalesce(d.found),
    )
    first = d.group_by("_key").agg(
        ts=d._ts.min(),
        channel=d.channel.min(),
        campaign=d.campaign_id.min(),
        content=d.template.min(),
        profile_id=d._pid.min(),
    )
    return first.select(
        **_row(first.ts, "send", first.channel, first.campaign, first.content, first.profile_id)
    )


def spend_facts(wh: Warehouse) -> list[ir.Table]:
    s = wh.table("ad_spend")
    ts = s.date.cast("timestamp")
    return [
        s.select(**_row(ts, "impression", s.channel, s.campaign_id, n=s.impressions.fill_null(0))),
        s.select(**_row(ts, "click", s.channel, s.campaign_id, n=s.clicks.fill_null(0))),
        s.select(**_row(ts, "spend", s.channel, s.campaign_id, n=1, value=s.spend.cast("float64"))),
    ]


def order_facts(wh: Warehouse) -> list[ir.Table]:
    by_name, by_id = _campaigns(wh)
    o = wh.table("orders")
    rp = wh.table("record_profiles").select(
        rp_source="source", rp_record="record_id", rp_profile="profile_id"
    )
    o = o.left_join(rp, [o.source == rp.rp_source, o.order_id == rp.rp_record])
    e = wh.table("events")
    done = e.filter(
        e.event == "Order Completed",
        e.context_campaign_name.notnull(),
        e.context_campaign_name != "",
    )
    done = done.select(
        ev_order=done.properties.cast("json")["order_id"].unwrap_as("string"),
        ev_campaign=done.context_campaign_name,
    )
    done = done.left_join(by_name, done.ev_campaign == by_name.name)
    done = done.group_by("ev_order").agg(ev_campaign=done.name_id.coalesce(done.ev_campaign).min())
    o = o.left_join(done, o.order_id == done.ev_order)
    o = o.mutate(_campaign=o.campaign_id.coalesce(o.ev_campaign))
    o = o.left_join(by_id, o._campaign == by_id.id_)
    purchase = ~o.status.fill_null("").lower().isin(NOT_PURCHASES)
    total = o.total.cast("float64")
    first_buy = ibis.window(group_by=o.rp_profile, order_by=[o.ordered_at, o.order_id])
    deals = o.filter(purchase).mutate(_rank=ibis.row_number().over(first_buy))
    profiles = wh.table("profiles").select(clv_profile="profile_id", clv="predicted_clv")
    first = deals.filter(deals.rp_profile.notnull(), deals._rank == 0)
    first = first.left_join(profiles, first.rp_profile == profiles.clv_profile)

    def rows(t: ir.Table, measure: str, value: ir.Value | None = None) -> ir.Table:
        return t.select(
            **_row(t.ordered_at, measure, t.id_channel, t._campaign, None, t.rp_profile, 1, value)
        )

    with_clv = first.filter(first.clv.notnull())
    return [
        rows(o, "order", total),
        rows(deals, "deal", deals.total.cast("float64")),
        rows(first, "new_customer"),
        rows(with_clv, "clv", with_clv.clv.cast("float64")),
    ]


def fact_rows(
    wh: Warehouse, rules: IdentityRules, measures: Collection[str] = ALL_MEASURES
) -> ir.Table:
    """Every fact of ``measures`` (default all), over all time."""
    wanted = set(measures) | (set(REACH_OF) if "reach" in measures else set())
    parts: list[ir.Table] = []
    if "send" in wanted:
        parts.append(delivery_facts(wh))
    if wanted & {*EVENT_MEASURES, "visit"}:
        parts.append(event_facts(wh, rules, wanted))
    spend = dict(zip(("impression", "click", "spend"), spend_facts(wh), strict=True))
    parts += [t for m, t in spend.items() if m in wanted]
    orders = ("order", "deal", "new_customer", "clv")
    if wanted & set(orders):
        parts += [t for m, t in zip(orders, order_facts(wh), strict=True) if m in wanted]
    if not parts:  # nothing asked reads a fact: an empty table of the right shape
        parts = [spend_facts(wh)[0].limit(0)]
    facts = ibis.union(*[p.select(*COLUMNS) for p in parts], distinct=False)
    if "reach" not in measures:
        return facts
    reached = facts.filter(facts.measure.isin(REACH_OF), facts.profile_id.notnull())
    reach = reached.mutate(measure=ibis.literal("reach"), n=ibis.literal(1).cast("int64"))
    return ibis.union(facts, reach.select(*COLUMNS), distinct=False)


def measure_rows(
    wh: Warehouse,
    rules: IdentityRules,
    query: Query,
    *,
    members: ir.Table | None = None,
    measures: Collection[str] = ALL_MEASURES,
) -> ir.Table:
    """Totals per measure, group and period: ``measure, *by, [period], n, people, value, sq``.

    ``members`` (a table of ``profile_id``): the reach of those people is also given as
    ``reach_in_segment`` (the target audience's coverage). ``measures``: only those are
    read (the others are absent from the result).
    """
    if members is not None:
        measures = {*measures, "reach"}
    facts = fact_rows(wh, rules, measures)
    if members is not None:
        inside = facts.filter(facts.measure == "reach").semi_join(
            members, facts.profile_id == members.profile_id
        )
        inside = inside.mutate(measure=ibis.literal("reach_in_segment"))
        facts = ibis.union(facts, inside.select(*COLUMNS), distinct=False)
    if query.since is not None:
        facts = facts.filter(facts.ts >= query.since)
    if query.until is not None:
        facts = facts.filter(facts.ts < query.until)
    if query.channel is not None:
        facts = facts.filter(facts.channel == query.channel)
    if query.campaign is not None:
        facts = facts.filter(facts.campaign == query.campaign)
    keys: list[ir.Value] = [facts.measure, *(facts[d] for d in query.by)]
    if query.period is not None:
        keys.append(facts.ts.truncate(PERIODS[query.period]).name("period"))
    totals = facts.group_by(keys).agg(
        n=facts.n.sum(),
        # Distinct people only where a KPI reads them (reach, orders, deals...): a
        # distinct count over every open and send cost more than the rest together.
        people=facts.profile_id.nunique(where=facts.measure.isin(sorted(PEOPLE_MEASURES))),
        value=facts.value.sum(),
        sq=(facts.value * facts.value).sum(),
    )
    order: Sequence[str] = ["measure", *query.by, *(["period"] if query.period else [])]
    return totals.order_by(list(order))
