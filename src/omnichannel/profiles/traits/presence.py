"""Presence: identifiers per type, first and last seen, source systems and channels.

- ``identifiers`` / ``identifier_counts``: every identifier ``profile_identifiers`` lists
  under the profile, linked or refused (a family phone refused as over-shared is still
  this person's phone), counted per type; the full list stays in ``profile_identifiers``.
- ``first_seen`` / ``last_seen``: earliest and latest of the profile's identifiers, events
  and orders.
- ``source_systems``: sources of the profile's records and events; ``channels``: channels
  of its events and orders. Both JSON arrays, sorted.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from omnichannel.profiles.traits.base import Members, json_array, json_object
from omnichannel.warehouse import Warehouse


def identifier_traits(wh: Warehouse) -> ir.Table:
    pi = wh.table("profile_identifiers")
    per_type = pi.group_by(["profile_id", "id_type"]).agg(n=pi.count())
    text = per_type.n.cast("string")
    return per_type.group_by("profile_id").agg(
        identifiers=per_type.n.sum().cast("int64"),
        identifier_counts=json_object(per_type, per_type.id_type, text, per_type.id_type),
    )


def seen_traits(wh: Warehouse, m: Members) -> ir.Table:
    pi = wh.table("profile_identifiers")
    spans = [
        pi.group_by("profile_id").agg(lo=pi.first_seen.min(), hi=pi.last_seen.max()),
        m.event_groups.group_by("profile_id").agg(
            lo=m.event_groups.first.min(), hi=m.event_groups.last.max()
        ),
        m.orders.group_by("profile_id").agg(
            lo=m.orders.ordered_at.min(), hi=m.orders.ordered_at.max()
        ),
    ]
    typed = [
        s.select("profile_id", lo=s.lo.cast("timestamp"), hi=s.hi.cast("timestamp")) for s in spans
    ]
    spans_all = ibis.union(*typed, distinct=False)
    g = m.event_groups
    events = g.group_by("profile_id").agg(events=g.n.sum().cast("int64"))
    seen = spans_all.group_by("profile_id").agg(
        first_seen=spans_all.lo.min(), last_seen=spans_all.hi.max()
    )
    return seen.left_join(events, "profile_id").select(
        "profile_id", "first_seen", "last_seen", events=lambda t: t.events.coalesce(0)
    )


def source_traits(wh: Warehouse, m: Members) -> ir.Table:
    rp = wh.table("record_profiles")
    sources = ibis.union(
        rp.select("profile_id", value=rp.source),
        m.event_groups.select("profile_id", value=m.event_groups.source),
        distinct=True,
    )
    sources = sources.filter(sources.value.notnull())
    channels = ibis.union(
        m.event_groups.select("profile_id", value=m.event_groups.channel),
        m.orders.select("profile_id", value=m.orders.channel),
        distinct=True,
    )
    channels = channels.filter(channels.value.notnull())
    s = sources.group_by("profile_id").agg(
        source_systems=json_array(sources, sources.value, sources.value)
    )
    c = channels.group_by("profile_id").agg(
        channels=json_array(channels, channels.value, channels.value)
    )
    joined = s.outer_join(c, "profile_id")
    return joined.select(
        profile_id=s.profile_id.coalesce(c.profile_id),
        source_systems=s.source_systems,
        channels=c.channels,
    )
