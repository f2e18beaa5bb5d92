"""Device: the device type and operating system a person's events come from most often.

Read from ``context_device_type`` and ``context_os_name`` (Segment's ``context.device.type``
and ``context.os.name``). Browsers and mini-programs that do not report them leave the
trait empty rather than guessing from a user agent.
"""

from __future__ import annotations

import ibis.expr.types as ir

from omnichannel.profiles.traits.base import Members, top_value


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
