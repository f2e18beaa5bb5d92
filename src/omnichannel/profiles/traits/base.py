"""What every trait needs: facts attributed to profiles, the build's clock, small helpers.

Identity resolution maps *records* to profiles (``record_profiles``): customer records,
``identify``/``alias`` calls and orders. Most events (pages, screens, tracks) are not
records; they belong to the profile that holds their ``user_id`` or, failing that, their
``anonymous_id``, typed per source exactly as the identity rules type them (a WeChat
anonymous id is a ``wechat_openid``). Deliveries carry a ``profile_id`` when the sender
knew it, else their recipient address is looked up among the profile's identifiers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from omnichannel.identity.components import Scratch
from omnichannel.identity.rules import IdentityRules
from omnichannel.warehouse import Warehouse

Progress = Callable[[str, int, int], None]

# Event names whose properties carry a product category or a content type.
PRODUCT_EVENTS = ("Product Viewed", "Product Added", "Product Clicked")
CONTENT_EVENTS = ("Content Viewed",)
# Offline = bought in a physical store; everything else (web, app, WeChat, marketplaces) is online.
OFFLINE_CHANNELS = ("store",)
# Orders that did not happen as purchases: they count neither as orders nor revenue.
VOID_ORDER_STATUSES = ("cancelled", "canceled", "refunded", "failed", "voided")
FAILED_DELIVERY_STATUSES = ("failed", "bounced", "rejected", "dropped")
# The channels' send path logs one row per step of a message (channels/deliveries.py):
# steps before the send, and answers to a message already counted, are not touches.
NOT_TOUCH_DELIVERY_STATUSES = (
    *FAILED_DELIVERY_STATUSES,
    "queued",
    "held",
    "retrying",
    "unsubscribed",
    "complained",
)


@dataclass
class Members:
    """Facts attributed to profiles, materialised once per build (temporary tables)."""

    profiles: ir.Table  # profile_id
    # profile_id, ts, event, source, channel, tz, the device fields, push_token, ...
    events: ir.Table
    orders: ir.Table  # profile_id, source, order_id, ordered_at, channel, total, campaign_id
    deliveries: ir.Table  # profile_id, at, campaign_id
    # Events counted per profile, channel, source, device type and OS, with first and last
    # time: one scan of the events serves every trait that needs no more detail.
    event_groups: ir.Table  # profile_id, channel, source, device_type, os_name, n, first, last
    as_of: datetime
    default_timezone: str


def events_beside_profiles(wh: Warehouse, rules: IdentityRules) -> ir.Table:
    """Every event with ``user_profile`` (the profile holding its user id, as the rules
    type it for its source) and ``anon_profile`` (the one holding its anonymous id)."""
    e = wh.table("events")
    ids = linked_identifiers(wh)
    by_user = ids.rename(user_profile="profile_id", user_type="id_type", user_value="id_value")
    by_anon = ids.rename(anon_profile="profile_id", anon_type="id_type", anon_value="id_value")
    typed = e.mutate(
        _user_type=typed_id(e.source, "user_id", rules),
        _anon_type=typed_id(e.source, "anonymous_id", rules),
    )
    return typed.left_join(
        by_user,
        [typed._user_type == by_user.user_type, typed.user_id.strip() == by_user.user_value],
    ).left_join(
        by_anon,
        [typed._anon_type == by_anon.anon_type, typed.anonymous_id.strip() == by_anon.anon_value],
    )


# The device fields a segment condition tests (``traits/devices.py``).
DEVICE_FIELDS = ("os_name", "device_type", "app_name", "app_version")


def device_columns(e: ir.Table) -> dict[str, Any]:
    """A raw event's device fields (``events`` columns), and whether it carries a push token.

    The one place they are read from an event: the build's ``profile_devices`` and a
    segment's reading of the events loaded since the build must agree.
    """
    ctx = e.context.cast("json")
    token = ctx["device"]["token"].str
    return {
        "os_name": e.context_os_name,
        "device_type": e.context_device_type,
        "app_name": e.context_app_name,
        "app_version": ctx["app"]["version"].str,
        "push_token": (token.notnull() & (token.strip() != "")).coalesce(False),
    }


def attributed_events(wh: Warehouse, rules: IdentityRules) -> ir.Table:
    """Events with the profile they belong to (user id first, then anonymous id)."""
    joined = events_beside_profiles(wh, rules)
    device = device_columns(joined)
    props = joined.properties.cast("json")
    is_product = joined.event.isin(PRODUCT_EVENTS)
    is_content = joined.event.isin(CONTENT_EVENTS)
    out = joined.select(
        profile_id=joined.user_profile.coalesce(joined.anon_profile),
        ts=joined.timestamp.coalesce(joined.original_timestamp, joined.received_at),
        event=joined.event,
        type=joined.type,
        source=joined.source,
        channel=joined.channel.coalesce(joined.source),
        tz=joined.context_timezone,
        **device,
        campaign_name=joined.context_campaign_name,
        # JSON is parsed only for the few event names that need it (engines short-circuit CASE).
        category=ibis.ifelse(is_product, props["category"].str, ibis.null(str)),
        content_type=ibis.ifelse(is_content, props["content_type"].str, ibis.null(str)),
        content_id=ibis.ifelse(is_content, props["content_id"].str, ibis.null(str)),
    )
    return out.filter(out.profile_id.notnull(), out.ts.notnull())


def event_groups(events: ir.Table) -> ir.Table:
    """Attributed events grouped by the dimensions the simple traits read."""
    keys = ["profile_id", "channel", "source", "device_type", "os_name"]
    return events.group_by(keys).agg(
        n=events.count().cast("int64"), first=events.ts.min(), last=events.ts.max()
    )


def attributed_orders(wh: Warehouse) -> ir.Table:
    """Orders with their profile, straight from ``record_profiles`` (an order is a record)."""
    o = wh.table("orders")
    rp = wh.table("record_profiles").select("source", "record_id", "profile_id")
    joined = o.join(rp, [o.source == rp.source, o.order_id == rp.record_id])
    valid = joined.filter(
        joined.ordered_at.notnull(),
        joined.status.isnull() | ~joined.status.lower().isin(VOID_ORDER_STATUSES),
    )
    return valid.select(
        "profile_id",
        "source",
        "order_id",
        "ordered_at",
        channel=valid.channel.coalesce(valid.source),
        total=valid.total.coalesce(0).cast("decimal(18, 2)"),
        campaign_id=valid.campaign_id,
    )


def attributed_deliveries(wh: Warehouse) -> ir.Table:
    """Messages sent, one row each, with the profile they reached: their own ``profile_id``
    or the recipient's."""
    d = wh.table("deliveries")
    status = d.status.lower()
    # A log with one row per message (imported, generated: no outbox_id) touched the person
    # unless it failed; the send path's log (one row per step) touched them once, when sent.
    one_row = d.outbox_id.isnull() & (d.status.isnull() | ~status.isin(FAILED_DELIVERY_STATUSES))
    d = d.filter(one_row | (d.outbox_id.notnull() & (status == "sent")))
    ids = linked_identifiers(wh).group_by("id_value").agg(found=lambda t: t.profile_id.min())
    joined = d.left_join(ids, d.recipient.strip() == ids.id_value)
    out = joined.select(
        profile_id=joined.profile_id.coalesce(joined.found),
        at=joined.sent_at.coalesce(joined.queued_at),
        campaign_id=joined.campaign_id,
    )
    return out.filter(out.profile_id.notnull(), out.at.notnull())


def linked_identifiers(wh: Warehouse) -> ir.Table:
    """``(id_type, id_value) -> profile_id`` for identifiers that linked (one profile each)."""
    pi = wh.table("profile_identifiers")
    linked = pi.filter(pi.status == "linked")
    # A linked value sits in one profile; min() guards against a partial incremental write.
    return linked.group_by(["id_type", "id_value"]).agg(profile_id=linked.profile_id.min())


def typed_id(source: ir.StringValue, id_type: str, rules: IdentityRules) -> ir.StringValue:
    """The identifier type a source's column is read as (``source_id_types`` of the rules)."""
    typed: ir.StringValue = ibis.literal(id_type)
    for src, mapping in sorted(rules.source_id_types.items()):
        if id_type in mapping:
            typed = ibis.ifelse(source == src, mapping[id_type], typed)
    return typed


def top_value(
    counts: ir.Table, key: str, weight: str, *, tie_break: Sequence[str] = ()
) -> ir.Table:
    """Per profile, the ``key`` with the largest ``weight`` (ties: smallest key).

    A window rank instead of ``arg_max``/``mode``: every engine has ``row_number``.
    """
    order = [ibis.desc(counts[weight]), *[ibis.desc(counts[c]) for c in tie_break], counts[key]]
    ranked = counts.mutate(_rank=ibis.row_number().over(group_by="profile_id", order_by=order))
    return ranked.filter(ranked._rank == 0).drop("_rank")


def json_string(value: ir.StringValue) -> ir.StringValue:
    """A value as a JSON string literal (quotes and backslashes escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return ibis.literal('"') + escaped + ibis.literal('"')


def json_array(t: ir.Table, value: ir.StringValue, order: ir.Value) -> ir.StringValue:
    """Aggregate: the group's values as a JSON array of strings, in ``order``."""
    return ibis.literal("[") + json_string(value).group_concat(",", order_by=order) + "]"


def json_object(
    t: ir.Table, key: ir.StringValue, value: ir.StringValue, order: ir.Value
) -> ir.StringValue:
    """Aggregate: the group's ``key: value`` pairs as a JSON object (values already JSON)."""
    pair = json_string(key) + ibis.literal(":") + value
    return ibis.literal("{") + pair.group_concat(",", order_by=order) + "}"


def scratch(wh: Warehouse) -> Scratch:
    """Temporary tables of one build, dropped at the end."""
    return Scratch(wh.con)
