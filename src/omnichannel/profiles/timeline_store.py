"""``profile_timeline``: every event, order and delivery keyed by the profile it belongs to.

Why: a timeline read straight from ``events`` has to find a person's rows by their user
and anonymous ids, which no engine can do without scanning every event (seconds at tens
of millions of events, with every other Profile API request waiting behind it). The
profile build already attributes every fact to a profile, so it also writes them here,
sorted by ``(profile_id, ts)``: one person's rows sit in one or two row groups, and a
read by ``profile_id`` skips the rest through the row groups' min/max statistics
(DuckDB) or an index (PostgreSQL).

Freshness: the table is as of the build. ``StoredTimeline`` says when it may be used: for a
profile whose records no resolution has touched since the build (an incremental
``omni identity resolve`` stamps only the records it re-resolved; after a merge, a split
or a ``--full`` run, readers of the touched profiles compute from the raw tables until
the next build), and it names the events loaded and the deliveries sent since the build,
which readers add from the raw tables.

The columns keep the raw tables' names (``message_id``, ``context_campaign_name``,
``order_id``, ``template``...), so a stored row and a raw row read the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.lookup import identity_stamp
from omnichannel.profiles.traits.base import events_beside_profiles, linked_identifiers
from omnichannel.warehouse import Warehouse

TIMELINE_TABLE = "profile_timeline"
EVENT_COLUMNS = (
    "message_id",
    "type",
    "event",
    "name",
    "source",
    "channel",
    "context_campaign_name",
    "context_campaign_source",
    "context_campaign_medium",
    "context_page_url",
    "user_id",
    "anonymous_id",
    "properties",
)
ORDER_COLUMNS = (
    "order_id",
    "source",
    "channel",
    "status",
    "total",
    "currency",
    "campaign_id",
    "coupon",
    "store_id",
    "ordered_at",
)
DELIVERY_COLUMNS = (
    "delivery_id",
    # The message each row is a step of (deliveries v3): a conversion path counts one
    # message once, at its furthest step, however many steps it logged.
    "outbox_id",
    "channel",
    "campaign_id",
    "journey_id",
    "template",
    "status",
    "error",
)
SCHEMA = ibis.schema(
    {
        "profile_id": "string",
        "ts": "timestamp",
        "uid": "string",
        "kind": "string",
        **{
            c: "string"
            for c in dict.fromkeys((*EVENT_COLUMNS, *ORDER_COLUMNS, *DELIVERY_COLUMNS))
            if c not in ("total", "ordered_at", "outbox_id")
        },
        "outbox_id": "int64",
        "total": "decimal(18, 2)",
        "ordered_at": "timestamp",
    }
)


def event_rows(wh: Warehouse, rules: IdentityRules) -> ir.Table:
    """Every event with the profile holding its user id, else its anonymous id."""
    joined = events_beside_profiles(wh, rules)
    out = joined.select(
        profile_id=joined.user_profile.coalesce(joined.anon_profile),
        ts=joined.timestamp.coalesce(joined.original_timestamp, joined.received_at),
        uid=ibis.literal("event:") + joined.message_id,
        kind=ibis.literal("event"),
        **{c: joined[c] for c in EVENT_COLUMNS},
    )
    return out.filter(out.profile_id.notnull(), out.ts.notnull())


def order_rows(wh: Warehouse) -> ir.Table:
    """Every order (cancelled ones too: a timeline shows them) with its record's profile."""
    o = wh.table("orders")
    rp = wh.table("record_profiles").select("source", "record_id", "profile_id")
    joined = o.join(rp, [o.source == rp.source, o.order_id == rp.record_id])
    out = joined.select(
        profile_id=joined.profile_id,
        ts=joined.ordered_at,
        uid=ibis.literal("order:") + joined.order_id,
        kind=ibis.literal("order"),
        **{c: joined[c] for c in ORDER_COLUMNS},
    )
    return out.filter(out.ts.notnull())


def delivery_rows(wh: Warehouse) -> ir.Table:
    """Every delivery with its own ``profile_id``, else the profile its recipient is linked to."""
    d = wh.table("deliveries")
    ids = linked_identifiers(wh).group_by("id_value").agg(found=lambda t: t.profile_id.min())
    joined = d.left_join(ids, d.recipient.strip() == ids.id_value)
    out = joined.select(
        profile_id=joined.profile_id.coalesce(joined.found),
        ts=joined.sent_at.coalesce(joined.queued_at),
        uid=ibis.literal("delivery:") + joined.delivery_id,
        kind=ibis.literal("delivery"),
        **{c: joined[c] for c in DELIVERY_COLUMNS},
    )
    return out.filter(out.profile_id.notnull(), out.ts.notnull())


def timeline_rows(wh: Warehouse, rules: IdentityRules) -> ir.Table:
    """The three kinds in one table of ``SCHEMA`` (absent columns NULL)."""
    parts = [
        part.select(
            *[
                (part[c] if c in part.columns else ibis.null()).cast(SCHEMA[c]).name(c)
                for c in SCHEMA.names
            ]
        )
        for part in (event_rows(wh, rules), order_rows(wh), delivery_rows(wh))
    ]
    return ibis.union(*parts, distinct=False)


@dataclass(frozen=True)
class StoredTimeline:
    """What the stored timeline covers: the identity graph and the facts it was built from."""

    identity: tuple[Any, ...]
    events_loaded_through: datetime | None
    deliveries_through: datetime | None
    # False once a resolution ran after the build: check each profile (``resolved_through``).
    identity_current: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "identity": [str(v) for v in self.identity],
            "events_loaded_through": _iso(self.events_loaded_through),
            "deliveries_through": _iso(self.deliveries_through),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredTimeline:
        return cls(
            identity=tuple(data["identity"]),
            events_loaded_through=_time(data.get("events_loaded_through")),
            deliveries_through=_time(data.get("deliveries_through")),
        )

    def covers(self, identity: tuple[Any, ...]) -> bool:
        """Built from this identity graph (else a merge or split since would be missed)."""
        return list(self.identity) == [str(v) for v in identity]

    @property
    def resolved_through(self) -> datetime | None:
        """The newest ``resolved_at`` of ``record_profiles`` when the build read it."""
        return _time(str(self.identity[1])) if self.identity[1] not in (None, "None") else None


def coverage_now(wh: Warehouse, identity: tuple[Any, ...]) -> StoredTimeline:
    """The marks of the facts as they are now, taken before a build reads them."""
    e = wh.table("events")
    d = wh.table("deliveries")
    return StoredTimeline(
        identity=identity,
        events_loaded_through=e.loaded_at.max().to_pyarrow().as_py(),
        deliveries_through=d.sent_at.coalesce(d.queued_at).max().to_pyarrow().as_py(),
    )


def last_coverage(wh: Warehouse) -> StoredTimeline | None:
    """The coverage of the last build that wrote ``profile_timeline``, if any."""
    if TIMELINE_TABLE not in wh.con.list_tables():
        return None
    b = wh.table("profile_builds")
    last = b.filter(b.status == "built").order_by(ibis.desc(b.built_at)).limit(1)
    rows = last.report.to_pyarrow().to_pylist()
    if not rows:
        return None
    stored = json.loads(str(rows[0])).get("timeline")
    return StoredTimeline.from_dict(stored) if stored else None


def current_coverage(
    wh: Warehouse, identity: tuple[Any, ...] | None = None
) -> StoredTimeline | None:
    """The last build's coverage, marked ``identity_current=False`` if a resolution ran since.

    ``identity`` is the graph's stamp when the caller already has it (the Profile lookup
    checks it every few seconds), which spares the aggregate query. None: no build wrote
    ``profile_timeline``.
    """
    coverage = last_coverage(wh)
    if coverage is None or coverage.covers(identity or identity_stamp(wh)):
        return coverage
    return replace(coverage, identity_current=False)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
