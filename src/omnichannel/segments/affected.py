"""Which profiles a set of new events can have moved in or out of a segment.

The real-time updater and an incremental refresh evaluate only these profiles: every
profile holding one of an event's identifiers (its user id or anonymous id, typed per
source by the identity rules as profiles read them, or its device id), which includes the
one the event is attributed to. Only identifiers that linked count, as everywhere
profiles attribute facts; evaluating a profile too many is harmless. The updater's own ``Segment
Entered`` / ``Segment Exited`` events name their person in ``properties.profile_id`` and
matter only to the segments defined by that segment ("member of").

An event of a person with no profile yet maps to nobody: that person joins once the
``profiles`` job (every 15 minutes) has resolved their identifiers and built their
profile, and the ``segments`` job runs a full refresh after each build.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir

from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.traits.base import typed_id
from omnichannel.segments.membership import EVENT_SOURCE
from omnichannel.warehouse import Warehouse


def affected_profiles(
    wh: Warehouse,
    events: ir.Table,
    rules: IdentityRules,
    *,
    names: set[str] | None,
    referenced: Iterable[str] = (),
) -> ir.Table:
    """One column ``profile_id`` (distinct): whose membership ``events`` can change.

    ``names`` are the event names that matter (``SegmentDefinition.event_names()``;
    None: any event); ``referenced`` the segments whose entries and exits matter.
    """
    own = events.source == EVENT_SOURCE
    facts = events.filter(~own.fill_null(False))
    if names is not None:
        facts = facts.filter(facts.event.isin(sorted(names)))
    parts: list[ir.Table] = []
    for column, id_type in (("user_id", "user_id"), ("anonymous_id", "anonymous_id")):
        typed = facts.select(
            id_type=typed_id(facts.source, id_type, rules),
            id_value=facts[column].strip(),
        )
        parts.append(typed.filter(typed.id_value.notnull()))
    device = facts.select(
        id_type=ibis.literal("device_id"), id_value=facts.context_device_id.strip()
    )
    parts.append(device.filter(device.id_value.notnull()))
    keys = ibis.union(*parts, distinct=True)
    # Only the batch's identifiers are looked up: grouping every linked identifier on each
    # batch cost more than the rest of the query at a million profiles.
    pi = wh.table("profile_identifiers")
    linked = pi.filter(pi.status == "linked", pi.id_value.isin(keys.id_value))
    ids = linked.group_by(["id_type", "id_value"]).agg(profile_id=linked.profile_id.min())
    profiles = keys.inner_join(ids, ["id_type", "id_value"]).select("profile_id")
    segments = sorted(set(referenced))
    if segments:
        mine = events.filter(own.fill_null(False))
        props = mine.properties.cast("json")
        changes = mine.filter(props["segment"].str.isin(segments))
        profiles = profiles.union(changes.select(profile_id=props["profile_id"].str))
    return profiles.filter(profiles.profile_id.notnull()).distinct()
