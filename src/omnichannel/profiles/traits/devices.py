"""Devices: the device type and OS a person's events come from most often, and every device seen.

Read from Segment's context as the spec puts it: ``context.os.name`` (``context_os_name``),
``context.device.type`` (``context_device_type``), ``context.app.name``
(``context_app_name``), ``context.app.version`` and the push token at
``context.device.token``. Browsers and mini-programs that do not report them leave the
fields empty rather than guessing from a user agent.

Two outputs:

- ``device_traits``: the ``device_type`` and ``os_name`` columns of ``profiles`` (the
  most frequent of each);
- ``device_summary``: ``profile_devices``, one row per person and device combination
  (OS, device type, app name, app version, push token present) with how many events came
  from it and when it was first and last seen. Segment device conditions read it instead
  of every event's context (``segments/sources.py``): at 20 million events that scan was
  most of a segment's query time.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from omnichannel.profiles.traits.base import DEVICE_FIELDS, Members, device_columns, top_value

DEVICES_TABLE = "profile_devices"
SCHEMA = ibis.schema(
    {
        "profile_id": "string",
        "os_name": "string",
        "device_type": "string",
        "app_name": "string",
        "app_version": "string",
        "push_token": "boolean",
        "events": "int64",
        "first_seen": "timestamp",
        "last_seen": "timestamp",
    }
)


def device_traits(m: Members) -> ir.Table:
    g = m.event_groups
    devices = g.filter(g.device_type.notnull() & (g.device_type != ""))
    by_type = devices.group_by(["profile_id", "device_type"]).agg(n=devices.n.sum())
    systems = g.filter(g.os_name.notnull() & (g.os_name != ""))
    by_os = systems.group_by(["profile_id", "os_name"]).agg(n=systems.n.sum())
    top_type = top_value(by_type, "device_type", "n").select("profile_id", "device_type")
    top_os = top_value(by_os, "os_name", "n").select("profile_id", "os_name")
    return top_type.outer_join(top_os, "profile_id").select(
        profile_id=top_type.profile_id.coalesce(top_os.profile_id),
        device_type=top_type.device_type,
        os_name=top_os.os_name,
    )


def device_summary(m: Members) -> ir.Table:
    """``profile_devices``: per profile and device combination, events, first and last seen.

    Events without any device field make a combination of empty fields too: a condition
    such as ``app_name: {exists: false}`` is met by a web page view.
    """
    e = m.events
    return e.group_by(["profile_id", *DEVICE_FIELDS, "push_token"]).agg(
        events=e.count().cast("int64"), first_seen=e.ts.min(), last_seen=e.ts.max()
    )


__all__ = [
    "DEVICES_TABLE",
    "DEVICE_FIELDS",
    "SCHEMA",
    "device_columns",
    "device_summary",
    "device_traits",
]
