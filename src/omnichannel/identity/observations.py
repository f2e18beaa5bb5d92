"""Identifier observations: every identifier on every record, read from the warehouse.

A *record* is anything one source system says about one person: a customer record, an
``identify`` or ``alias`` call (its ``message_id``), an order. An *observation* is one
identifier seen on one record: ``(source, record_id, id_type, id_value, observed_at)``.
They come from four places, all as Ibis expressions so any engine can run them:

- ``identifiers``: what connectors wrote (CRM ids, loyalty cards, phones, emails...);
- ``events`` of the rule's ``event_types``: ``userId``, ``anonymousId``, ``previousId``
  (an alias's earlier anonymous id), ``context.device.id`` and ``traits.email/phone``;
- ``orders``: the buyer's ``user_id``, ``anonymous_id`` and ``customer_record_id``;
- ``customer_records``: each record's own id, so an order pointing at it joins it;
- ``record_links`` (Splink) at or above the rules' ``linkage.min_probability``: the link
  itself, as an identifier of type ``linkage`` on both records it links, so the graph joins
  them under the same limits as any identifier.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from omnichannel.identity.rules import ANY_TYPE, IdentityRules
from omnichannel.ingest.normalize import EMAIL_PATTERN, PHONE_PATTERN
from omnichannel.warehouse import Warehouse

# One precision for every part: engines report timestamp and timestamp(6) apart.
TIMESTAMP = dt.Timestamp(scale=6)
COLUMNS = ("source", "record_id", "id_type", "id_value", "observed_at")
RECORD_POINTER = "customer_record_id"
LINKAGE = "linkage"


def observations(wh: Warehouse, rules: IdentityRules) -> ir.Table:
    """All observations, typed per source, normalised and de-duplicated (blocked ones kept)."""
    parts = [
        _from_identifiers(wh),
        *_from_events(wh, rules),
        *_from_orders(wh),
        _from_customer_records(wh),
        *_from_links(wh, rules),
    ]
    raw = ibis.union(*parts, distinct=False)
    typed = raw.mutate(id_type=_source_type(raw, rules), id_value=_normalise(raw))
    valid = typed.filter(
        typed.source.notnull(),
        typed.record_id.notnull(),
        typed.id_value.notnull(),
        typed.id_value != "",
        _well_formed(typed),
    )
    return valid.group_by(["source", "record_id", "id_type", "id_value"]).agg(
        observed_at=valid.observed_at.min()
    )


def blocked_reason(obs: ir.Table, rules: IdentityRules) -> ir.StringValue:
    """``blocked_value`` / ``blocked_pattern`` for observations the rules block, else NULL."""
    reason = ibis.null(str)
    for id_type, patterns in sorted(rules.blocked_patterns.items(), reverse=True):
        for pattern in patterns:
            hit = obs.id_value.re_search(pattern)
            if id_type != ANY_TYPE:
                hit = hit & (obs.id_type == id_type)
            reason = ibis.ifelse(hit, "blocked_pattern", reason)
    for id_type, values in sorted(rules.blocked_values.items(), reverse=True):
        if not values:
            continue
        hit = obs.id_value.lower().isin(sorted(values))
        if id_type != ANY_TYPE:
            hit = hit & (obs.id_type == id_type)
        reason = ibis.ifelse(hit, "blocked_value", reason)
    return reason


def _rows(
    source: ir.StringValue,
    record_id: ir.StringValue,
    id_type: str,
    value: ir.Value,
    at: ir.TimestampValue,
) -> dict[str, ir.Value]:
    return {
        "source": source.cast("string"),
        "record_id": record_id.cast("string"),
        "id_type": ibis.literal(id_type, "string"),
        "id_value": value.cast("string"),
        "observed_at": at.cast(TIMESTAMP),
    }


def _from_identifiers(wh: Warehouse) -> ir.Table:
    t = wh.table("identifiers")
    return t.select(
        source=t.source,
        record_id=t.record_id,
        id_type=t.id_type,
        id_value=t.id_value.cast("string"),
        observed_at=t.observed_at.cast(TIMESTAMP),
    )


def _from_events(wh: Warehouse, rules: IdentityRules) -> list[ir.Table]:
    if not rules.event_types:
        return []
    e = wh.table("events")
    e = e.filter(e.type.isin(list(rules.event_types)))
    at = e.timestamp.coalesce(e.received_at, e.loaded_at)
    traits = e.traits.cast("json")
    columns = {
        "user_id": e.user_id,
        "anonymous_id": e.anonymous_id,
        # Aliasing an anonymous visitor to a user is the common case (Segment's alias).
        "previous_id": e.previous_id,
        "device_id": e.context_device_id,
        "email": traits["email"].str,
        "phone": traits["phone"].str,
    }
    parts = []
    for name, value in columns.items():
        id_type = "anonymous_id" if name == "previous_id" else name
        parts.append(e.select(**_rows(e.source, e.message_id, id_type, value, at)))
    return parts


def _from_orders(wh: Warehouse) -> list[ir.Table]:
    o = wh.table("orders")
    return [
        o.select(**_rows(o.source, o.order_id, id_type, o[id_type], o.ordered_at))
        for id_type in ("user_id", "anonymous_id", RECORD_POINTER)
    ]


def _from_customer_records(wh: Warehouse) -> ir.Table:
    c = wh.table("customer_records")
    at = c.created_at.coalesce(c.updated_at)
    return c.select(**_rows(c.source, c.record_id, RECORD_POINTER, c.record_id, at))


def _from_links(wh: Warehouse, rules: IdentityRules) -> list[ir.Table]:
    """Each link above the threshold, named after its pair, observed on both its records."""
    if rules.linkage_min_probability is None:
        return []
    links = wh.table("record_links")
    links = links.filter(links.match_probability >= rules.linkage_min_probability)
    name = (
        links.source_l + "/" + links.record_id_l + " ~ " + links.source_r + "/" + links.record_id_r
    )
    return [
        links.select(
            **_rows(
                links[f"source_{side}"], links[f"record_id_{side}"], LINKAGE, name, links.linked_at
            )
        )
        for side in ("l", "r")
    ]


def _source_type(t: ir.Table, rules: IdentityRules) -> ir.StringValue:
    id_type: ir.StringValue = t.id_type
    for source, mapping in sorted(rules.source_id_types.items()):
        for from_type, to_type in sorted(mapping.items()):
            id_type = ibis.ifelse((t.source == source) & (t.id_type == from_type), to_type, id_type)
    return id_type


def _well_formed(t: ir.Table) -> ir.BooleanValue:
    """An email or phone that is not one (an identify trait ``not-an-email``) is no node.

    Connectors refuse such values before they are stored; traits arrive as sent, so
    they are checked here and stay traits only (``omni quality`` counts them).
    """
    email_ok = t.id_value.re_search(f"^{EMAIL_PATTERN}$")
    phone_ok = t.id_value.re_search(PHONE_PATTERN)
    return ibis.cases(
        (t.id_type == "email", email_ok),
        (t.id_type == "phone", phone_ok),
        else_=ibis.literal(True),
    )


def _normalise(t: ir.Table) -> ir.StringValue:
    """Trimmed; emails lower-cased (phones arrive normalised by ingest)."""
    value = t.id_value.strip()
    return ibis.ifelse(t.id_type == "email", value.lower(), value)
