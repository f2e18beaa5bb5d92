"""What a send-time model learns from: each person's responses and activity by local hour of week.

Two kinds of observation, both read from ``events`` and attributed to profiles the way the
profile build attributes them (``events_beside_profiles``: the profile holding the event's
user id, else its anonymous id):

An observation is one local hour in which the person did something: the hours holding a
response on a channel count for that channel, the others as general activity.

- **engagement on a channel**: the Segment-spec calls a response to a message makes
  (``Email Link Clicked``, ``SMS Link Clicked``, ``Push Notification Tapped``, ``WeChat
  Message Clicked``, ``Inbox Message Read``...; opens: see ``ENGAGEMENT_EVENTS``). The
  send path writes a ``clicked``/``read`` row in ``deliveries`` *and* such an event for
  every response (docs/channels.md), so only the events are counted: counting both would
  count each click twice, and imported message logs (the demo's) have the events alone;
- **general activity**: the hours a person was active at all, counted once per local
  (date, hour) with any event, so a session of forty page views is one observation, not
  forty (a burst says when someone is around, not forty times how likely), and an open
  followed by a visit in the same hour is one observation, not two.

``send_time_hours`` keeps, per profile and hour of week, the active hours (channel
``*``) and, of those, the hours with a response on each channel.

Local time follows the profile build (``profiles/traits/hours.py``): an event's own
``context_timezone``, else the installation's zone, with offsets computed in Python per
(time zone, UTC day) and joined on. A person's usual zone (the most frequent among their
events) is kept for scheduling. Hour of week: Monday 00:00 = 0, Sunday 23:00 = 167.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

from omnichannel.identity.components import Scratch
from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.traits.base import events_beside_profiles, top_value
from omnichannel.profiles.traits.hours import zone, zone_offsets
from omnichannel.warehouse import Warehouse

HOURS_PER_WEEK = 168
# The channels a person is sent to (webhooks reach systems, not people).
CHANNELS = ("email", "sms", "push", "wechat", "inbox")
# ``send_time_hours.channel`` of general activity (any event), beside the channels' names.
ACTIVITY = "*"
# Response events per channel: Segment's Email and Mobile specs, and our own names.
# Email opens are not among them: an open's time is often the delivery's, not the
# reader's (Apple Mail Privacy Protection fetches every pixel on arrival, and a message
# sent at 10:00 is opened after 10:00 whatever the reader's habits), so an open counts
# as an active hour like any other event, not as a response.
ENGAGEMENT_EVENTS: dict[str, str] = {
    "Email Link Clicked": "email",
    "SMS Link Clicked": "sms",
    "Push Notification Tapped": "push",
    "Push Notification Opened": "push",
    "WeChat Message Clicked": "wechat",
    "Inbox Message Read": "inbox",
    "Inbox Message Clicked": "inbox",
}


@dataclass
class Evidence:
    """The observations of one build, kept in the engine (temporary tables)."""

    # profile_id, channel (a channel or ACTIVITY), hour_of_week, observations
    hours: ir.Table
    # profile_id, timezone: the most frequent zone of the person's events
    zones: ir.Table


def collect(
    wh: Warehouse,
    tmp: Scratch,
    rules: IdentityRules,
    *,
    default_timezone: str,
    until: datetime | None = None,
) -> Evidence:
    """Count every profile's observations by local hour of week (events before ``until``)."""
    fallback = zone(default_timezone)
    joined = events_beside_profiles(wh, rules)
    ts = joined.timestamp.coalesce(joined.original_timestamp, joined.received_at)
    tz = joined.context_timezone.strip().nullif("")
    events = joined.select(
        profile_id=joined.user_profile.coalesce(joined.anon_profile),
        ts=ts,
        event=joined.event,
        tz=tz,
    )
    events = events.filter(events.profile_id.notnull(), events.ts.notnull())
    if until is not None:
        events = events.filter(events.ts < ibis.literal(until).cast("timestamp"))
    events = tmp.keep(events)

    by_zone = (
        events.filter(events.tz.notnull()).group_by(["profile_id", "tz"]).agg(n=ibis._.count())
    )
    zones = tmp.keep(top_value(by_zone, "tz", "n").select("profile_id", timezone="tz"))

    local = _local_times(events, default_timezone, fallback)
    slotted = local.mutate(slot=local.local_ts.truncate("h"))
    slots = slotted.select("profile_id", "slot").distinct()
    activity = slots.group_by(["profile_id", _hour_of_week(slots.slot)]).agg(
        observations=ibis._.count()
    )
    activity = activity.mutate(channel=ibis.literal(ACTIVITY))
    responses = slotted.filter(slotted.event.isin(list(ENGAGEMENT_EVENTS)))
    responses = responses.select(
        "profile_id", "slot", channel=responses.event.substitute(ENGAGEMENT_EVENTS)
    ).distinct()
    engagement = responses.group_by(["profile_id", "channel", _hour_of_week(responses.slot)]).agg(
        observations=ibis._.count()
    )
    columns = ["profile_id", "channel", "hour_of_week", "observations"]
    hours = ibis.union(activity.select(*columns), engagement.select(*columns), distinct=False)
    typed = hours.select(
        profile_id=hours.profile_id,
        channel=hours.channel,
        hour_of_week=hours.hour_of_week.cast("int32"),
        observations=hours.observations.cast("int64"),
    )
    return Evidence(hours=tmp.keep(typed), zones=zones)


def _hour_of_week(ts: ir.TimestampValue) -> ir.IntegerValue:
    return (ts.day_of_week.index() * 24 + ts.hour()).cast("int32").name("hour_of_week")


def _local_times(events: ir.Table, default_timezone: str, fallback: ZoneInfo) -> ir.Table:
    """Each event's local time: its own zone, else the installation's (see the module doc)."""
    tz_name = events.tz.coalesce(ibis.literal(default_timezone))
    keyed = events.mutate(tz_name=tz_name, utc_day=events.ts.date())
    joined = keyed.join(zone_offsets(keyed, fallback), ["tz_name", "utc_day"])
    return joined.select(
        "profile_id", "event", local_ts=joined.ts + joined.offset_min.as_interval("m")
    )
