"""One stream of step matches: ``person, ts, m0..mK`` (row matches step k) and breakdowns.

Rows come from the sources the steps use: events (a person by the profile holding the
event's user id, else its anonymous id, as the profile timeline attributes them), orders
(by their record's profile: a store purchase joins the person's online events) and the
delivery log (by its profile, else its recipient). The facts are filtered to the steps
*before* they are joined to identities, so a funnel over tens of millions of events
joins only the rows that can match. A fact whose ids no identity resolution has seen yet
keeps its own key (``user_id:u1``, ``anonymous_id:a1``): new events count in the next
query, before the next ``omni identity resolve`` merges them into a profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from omnichannel.analytics.funnels.definition import PAGE_EVENTS, Match
from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.traits.base import linked_identifiers, typed_id
from omnichannel.segments.leaves import json_path, property_predicate
from omnichannel.warehouse import Warehouse

NOT_PURCHASES = ("cancelled", "canceled", "refunded", "failed", "voided")
EVENT_TYPES = ("track", "page", "screen")


@dataclass(frozen=True)
class StreamSpec:
    """What to read: each step's matches, the time span, the breakdown columns."""

    steps: Sequence[Sequence[Match]]
    start: datetime | None  # rows from (entry since)
    end: datetime | None  # rows before (entry until + window)
    dimensions: Sequence[str] = ()  # row dimensions (channel, campaign, property:x...)
    every_row: bool = False  # strict: the person's other facts too, matching no step
    now: datetime = datetime(2000, 1, 1)

    def flags(self, source: str) -> list[list[Match]]:
        return [[m for m in step if m.source == source] for step in self.steps]


def step_stream(wh: Warehouse, rules: IdentityRules, spec: StreamSpec) -> ir.Table:
    """``person, ts, m0..m{K-1}, d_<dimension>...`` over every source a step uses."""
    used = {m.source for step in spec.steps for m in step}
    builders = {"event": _events, "order": _orders, "message": _messages}
    parts = [
        builders[source](wh, rules, spec)
        for source in ("event", "order", "message")
        if source in used
    ]
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def flag_names(k: int) -> list[str]:
    return [f"m{i}" for i in range(k)]


def dimension_column(dimension: str) -> str:
    return "d_" + "".join(c if c.isalnum() else "_" for c in dimension)


def _span(t: ir.Table, ts: ir.TimestampValue, spec: StreamSpec) -> ir.Table:
    if spec.start is not None:
        t = t.filter(ts >= spec.start)
    if spec.end is not None:
        t = t.filter(ts < spec.end)
    return t


def _any(preds: list[ir.BooleanValue]) -> ir.BooleanValue:
    return ibis.or_(*preds) if preds else ibis.literal(False)


def _in(value: ir.StringValue, names: Sequence[str]) -> ir.BooleanValue:
    return value.isin(list(names)) if len(names) > 1 else value == names[0]


def _campaign_names(wh: Warehouse) -> ir.Table:
    c = wh.table("campaigns")
    return c.group_by(cid=c.campaign_id).agg(cname=c.name.min())


# --- events ------------------------------------------------------------------------------


def _event_match(e: ir.Table, m: Match, now: datetime) -> ir.BooleanValue:
    assert m.event is not None
    plain = [n for n in m.event if n not in PAGE_EVENTS]
    typed = [PAGE_EVENTS[n] for n in m.event if n in PAGE_EVENTS]
    names = []
    if plain:
        names.append(_in(e.event, plain))
    if typed:
        names.append(_in(e.type, typed) & e.event.isnull())
    pred = _any(names)
    if m.channel:
        pred = pred & _in(e.channel, m.channel)
    if m.campaign:
        pred = pred & _in(e.context_campaign_name, m.campaign)
    for test in m.where:
        pred = pred & property_predicate(e.properties, test, now)
    return pred


def _names_read(steps: Sequence[Sequence[Match]]) -> tuple[list[str], bool]:
    """Every event name a step can match (none when one matches by type: a page view is
    an event without a name), and whether the names are the whole test (no step filters
    by channel, campaign or property)."""
    names: set[str] = set()
    exact = True
    for m in (m for step in steps for m in step):
        assert m.event is not None
        if any(n in PAGE_EVENTS for n in m.event):
            return [], False
        names.update(m.event)
        exact = exact and not (m.channel or m.campaign or m.where)
    return sorted(names), exact and bool(names)


def _event_dimension(e: ir.Table, dimension: str) -> ir.Value:
    kind, _, arg = dimension.partition(":")
    if kind == "property":
        return json_path(e.properties, arg).str
    columns = {
        "channel": e.channel,
        "campaign": e.context_campaign_name,
        "content": e.context_campaign_content,
        "device": e.context_device_type,
        "store": json_path(e.properties, "store_id").str,
        "source": e.context_campaign_source,
        "medium": e.context_campaign_medium,
    }
    return columns[kind]


def _events(wh: Warehouse, rules: IdentityRules, spec: StreamSpec) -> ir.Table:
    e = wh.table("events")
    ts = e.timestamp.coalesce(e.original_timestamp, e.received_at)
    flags = [_any([_event_match(e, m, spec.now) for m in step]) for step in spec.flags("event")]
    e = _span(e, ts, spec)
    if spec.every_row:
        e = e.filter(e.type.isin(EVENT_TYPES))
    else:
        names, exact = _names_read(spec.flags("event"))
        if names:
            # A test the scan itself can make (see ``one_of``); unless the steps match by
            # name alone, their own tests follow on the rows it keeps.
            e = e.filter(wh.one_of(e.event, names))
        if not exact:
            e = e.filter(_any(flags))
    # The person is NULL only without either id: tested on the raw row, before the join.
    e = e.filter(ts.notnull(), e.user_id.notnull() | e.anonymous_id.notnull())
    e = e.select(
        user_id=e.user_id,
        anonymous_id=e.anonymous_id,
        source=e.source,
        ts=ts,
        **{f"m{i}": f for i, f in enumerate(flags)},
        **{dimension_column(d): _event_dimension(e, d).cast("string") for d in spec.dimensions},
    )
    ids = linked_identifiers(wh)
    # Each side's lookup holds only the identifier types that column can be read as:
    # the anonymous ids' lookup stays small where most identifiers are user ids.
    user_ids = ids.filter(ids.id_type.isin(_types_of(rules, "user_id")))
    anon_ids = ids.filter(ids.id_type.isin(_types_of(rules, "anonymous_id")))
    by_user = user_ids.select(u_type="id_type", u_value="id_value", u_profile="profile_id")
    by_anon = anon_ids.select(a_type="id_type", a_value="id_value", a_profile="profile_id")
    j = e.left_join(
        by_user,
        [typed_id(e.source, "user_id", rules) == by_user.u_type, e.user_id == by_user.u_value],
    )
    j = j.left_join(
        by_anon,
        [
            typed_id(j.source, "anonymous_id", rules) == by_anon.a_type,
            j.anonymous_id == by_anon.a_value,
        ],
    )
    person = j.u_profile.coalesce(
        j.a_profile,
        ibis.literal("user_id:") + j.user_id,
        ibis.literal("anonymous_id:") + j.anonymous_id,
    )
    out = j.select(
        person=person,
        ts=j.ts,
        **{f"m{i}": j[f"m{i}"] for i in range(len(flags))},
        **{dimension_column(d): j[dimension_column(d)] for d in spec.dimensions},
    )
    return out


def _types_of(rules: IdentityRules, column: str) -> list[str]:
    """The identifier types ``typed_id`` can read ``column`` as, for any source."""
    types = {column} | {m[column] for m in rules.source_id_types.values() if column in m}
    return sorted(types)


# --- orders ------------------------------------------------------------------------------


def _orders(wh: Warehouse, rules: IdentityRules, spec: StreamSpec) -> ir.Table:
    o = wh.table("orders")
    o = o.filter(~o.status.fill_null("").lower().isin(NOT_PURCHASES), o.ordered_at.notnull())
    o = _span(o, o.ordered_at, spec)
    names = _campaign_names(wh)
    o = o.left_join(names, o.campaign_id == names.cid)
    campaign = o.cname.coalesce(o.campaign_id)
    flags: list[ir.BooleanValue] = []
    for step in spec.flags("order"):
        preds = []
        for m in step:
            assert m.order is not None
            pred: ir.BooleanValue = ibis.literal(True)
            channels = m.order.channel or m.channel
            if channels:
                pred = pred & o.channel.lower().isin([c.lower() for c in channels])
            if m.order.store_id:
                pred = pred & _in(o.store_id, m.order.store_id)
            if m.campaign:
                pred = pred & (
                    _in(campaign, m.campaign) | _in(o.campaign_id.fill_null(""), m.campaign)
                )
            preds.append(pred)
        flags.append(_any(preds))
    o = o.mutate(**{f"m{i}": f for i, f in enumerate(flags)})
    if not spec.every_row:
        o = o.filter(_any([o[f"m{i}"] for i in range(len(flags))]))
    rp = wh.table("record_profiles").select(
        r_source="source", r_id="record_id", r_profile="profile_id"
    )
    j = o.left_join(rp, [o.source == rp.r_source, o.order_id == rp.r_id])
    columns = {
        "channel": j.channel,
        "campaign": j.cname.coalesce(j.campaign_id),
        "store": j.store_id,
        "source": j.source,
    }
    out = j.select(
        person=j.r_profile.coalesce(ibis.literal("user_id:") + j.user_id),
        ts=j.ordered_at,
        **{f"m{i}": j[f"m{i}"] for i in range(len(flags))},
        **{
            dimension_column(d): (columns.get(d, ibis.null())).cast("string")
            for d in spec.dimensions
        },
    )
    return out.filter(out.person.notnull())


# --- the delivery log --------------------------------------------------------------------


def _messages(wh: Warehouse, rules: IdentityRules, spec: StreamSpec) -> ir.Table:
    d = wh.table("deliveries")
    ts = d.at.coalesce(d.sent_at, d.queued_at)
    d = _span(d, ts, spec).mutate(ts=ts)
    names = _campaign_names(wh)
    d = d.left_join(names, d.campaign_id == names.cid)
    campaign = d.cname.coalesce(d.campaign_id)
    flags = []
    for step in spec.flags("message"):
        preds = []
        for m in step:
            assert m.message is not None
            pred = _in(d.status, m.message.status)
            channels = m.message.channel or m.channel
            if channels:
                pred = pred & _in(d.channel, channels)
            if m.campaign:
                pred = pred & (
                    _in(campaign, m.campaign) | _in(d.campaign_id.fill_null(""), m.campaign)
                )
            preds.append(pred)
        flags.append(_any(preds))
    d = d.mutate(d_campaign_=campaign, **{f"m{i}": f for i, f in enumerate(flags)})
    if not spec.every_row:
        d = d.filter(_any([d[f"m{i}"] for i in range(len(flags))]))
    ids = linked_identifiers(wh).group_by("id_value").agg(found=lambda t: t.profile_id.min())
    j = d.left_join(ids, d.recipient.strip() == ids.id_value)
    columns = {"channel": j.channel, "campaign": j.d_campaign_, "content": j.template}
    out = j.select(
        person=j.profile_id.coalesce(j.found),
        ts=j.ts,
        **{f"m{i}": j[f"m{i}"] for i in range(len(flags))},
        **{
            dimension_column(dim): columns.get(dim, ibis.null()).cast("string")
            for dim in spec.dimensions
        },
    )
    return out.filter(out.person.notnull(), out.ts.notnull())


def span_of(
    since: datetime | None, until: datetime | None, window: timedelta
) -> tuple[datetime | None, datetime | None]:
    """Rows a funnel reads: from its entry's ``since`` to ``until`` plus the window."""
    return since, (until + window if until is not None else None)
