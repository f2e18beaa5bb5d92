"""A profile's timeline across channels, and the conversion path before each order.

Which facts belong to a profile follows the profile build (``profiles.traits.base``):

- events: by ``user_id``, else by ``anonymous_id``, typed per source the way the identity
  rules type them (a Tmall user id is a ``marketplace_buyer_id``); an event whose user id
  belongs to another profile is that profile's even if its cookie is ours;
- orders: an order is a record of the identity graph (``record_profiles``);
- deliveries: by their ``profile_id`` or their recipient address among our identifiers.

Only identifiers with status ``linked`` attribute facts: a refused family phone must not
pull a relative's messages into this timeline.

Pagination is keyset-based: items are ordered newest first by ``(timestamp, uid)`` where
``uid`` is ``kind:id``; the cursor is the last item's pair, so a page is the same whatever
arrives meanwhile, and no item is returned twice.

Where the facts are read from: ``profile_timeline`` (written by the profile build, sorted
by profile, see ``timeline_store``) while the identity graph is the one the build used,
plus the events loaded and the deliveries sent since; otherwise (no build yet, or
``omni identity resolve`` ran since the build) the raw tables, which is correct but
scans every event.

The identity rules are always the installation's (``InstallationConfig.rules``): they
type each source's ids, and the shipped rules would type them differently.

Example::

    rules = InstallationConfig.load(settings).rules
    page = timeline(wh, "p_0123456789abcdef", rules=rules, limit=50)
    more = timeline(wh, "p_0123456789abcdef", rules=rules, limit=50, cursor=page.next)
    conversion_paths(wh, "p_0123456789abcdef", rules=rules, lookback_days=30)
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from omnichannel.errors import ValidationError
from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles import timeline_sql as fast
from omnichannel.profiles.timeline_store import StoredTimeline, current_coverage
from omnichannel.profiles.traits.base import (
    CONTENT_EVENTS,
    NOT_TOUCH_DELIVERY_STATUSES,
    VOID_ORDER_STATUSES,
    typed_id,
)
from omnichannel.warehouse import Warehouse

KINDS = ("event", "order", "delivery")
MAX_LIMIT = 1000
# How far a message got with the person, by its deliveries step: the one a conversion
# path shows for a message (an opened email is one touch, not a sent and an opened one).
STEP_RANK = {"sent": 1, "delivered": 2, "read": 3, "opened": 3, "clicked": 4}
# The open and click events our tracking links record (context.campaign.source).
OUR_CAMPAIGN_SOURCE = "omnichannel"
EVENT_STEPS = {"open": "opened", "click": "clicked"}


@dataclass
class Page:
    """One page of a timeline; ``next`` is None on the last page."""

    items: list[dict[str, Any]]
    next: str | None


def encode_cursor(at: datetime, uid: str) -> str:
    raw = json.dumps([at.isoformat(), uid]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, uid = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(at), str(uid)
    except (ValueError, TypeError) as exc:
        raise ValidationError("cursor", cursor, f"a cursor returned by this API ({exc})") from None


@dataclass
class Identity:
    """The linked identifiers of a profile, by type."""

    profile_id: str
    values: dict[str, list[str]]

    def of(self, *types: str) -> list[str]:
        return sorted({v for t in types for v in self.values.get(t, [])})


def identity_of(wh: Warehouse, profile_id: str) -> Identity:
    pi = wh.table("profile_identifiers")
    rows = (
        pi.filter(pi.profile_id == profile_id, pi.status == "linked")
        .select("id_type", "id_value")
        .to_pyarrow()
        .to_pylist()
    )
    values: dict[str, list[str]] = {}
    for r in rows:
        values.setdefault(str(r["id_type"]), []).append(str(r["id_value"]))
    return Identity(profile_id, values)


def _types_of(column: str, rules: IdentityRules) -> list[str]:
    """Every type a source's ``column`` may be read as (``source_id_types``)."""
    found = {column}
    for mapping in rules.source_id_types.values():
        if column in mapping:
            found.add(mapping[column])
    return sorted(found)


def _mine(e: ir.Table, column: str, ident: Identity, rules: IdentityRules) -> ir.BooleanValue:
    """``e[column]``, typed per source, is one of the profile's linked identifiers."""
    typed = typed_id(e.source, column, rules)
    value = e[column].strip()
    test: ir.BooleanValue = ibis.literal(False)
    for id_type in _types_of(column, rules):
        values = ident.of(id_type)
        if values:
            test = test | ((typed == id_type) & value.isin(values))
    return test


def profile_events(
    wh: Warehouse, ident: Identity, rules: IdentityRules, *, within: ir.Table | None = None
) -> ir.Table:
    """The profile's events (of ``within``, default all), with ``ts`` and ``uid`` columns."""
    e = wh.table("events") if within is None else within
    users = ident.of(*_types_of("user_id", rules))
    anons = ident.of(*_types_of("anonymous_id", rules))
    if not users and not anons:
        return e.filter(ibis.literal(False)).mutate(ts=e.timestamp, uid=e.message_id)
    by_user = _mine(e, "user_id", ident, rules)
    by_anon = _mine(e, "anonymous_id", ident, rules)
    candidates = e.filter(
        e.user_id.strip().isin(users or [""]) | e.anonymous_id.strip().isin(anons or [""])
    )
    # A cookie of ours on an event whose user id is someone else's: theirs (user id first).
    foreign = _foreign_users(wh, candidates.filter(~by_user & by_anon), ident)
    # An event without a user id is nobody else's: NULL must not read as "foreign".
    claimed = candidates.user_id.strip().isin(foreign or [""]).fill_null(False)
    owned = candidates.filter(by_user | (by_anon & ~claimed))
    return owned.mutate(
        ts=owned.timestamp.coalesce(owned.original_timestamp, owned.received_at),
        uid=ibis.literal("event:") + owned.message_id,
    )


def _foreign_users(wh: Warehouse, rows: ir.Table, ident: Identity) -> list[str]:
    """User ids on those rows that are linked to another profile."""
    users = rows.filter(rows.user_id.notnull()).select(user=rows.user_id.strip()).distinct()
    pi = wh.table("profile_identifiers")
    other = pi.filter(pi.status == "linked", pi.profile_id != ident.profile_id)
    hit = users.semi_join(other, users.user == other.id_value)
    return [str(u) for u in hit.user.to_pyarrow().to_pylist()]


def profile_orders(wh: Warehouse, profile_id: str) -> ir.Table:
    o = wh.table("orders")
    rp = wh.table("record_profiles")
    mine = rp.filter(rp.profile_id == profile_id).select("source", "record_id")
    owned = o.semi_join(mine, [o.source == mine.source, o.order_id == mine.record_id])
    return owned.mutate(ts=owned.ordered_at, uid=ibis.literal("order:") + owned.order_id)


def profile_deliveries(
    wh: Warehouse, ident: Identity, *, within: ir.Table | None = None
) -> ir.Table:
    d = wh.table("deliveries") if within is None else within
    recipients = sorted({v for values in ident.values.values() for v in values})
    owned = d.filter(
        (d.profile_id == ident.profile_id)
        | (d.profile_id.isnull() & d.recipient.strip().isin(recipients or [""]))
    )
    return owned.mutate(
        ts=owned.sent_at.coalesce(owned.queued_at),
        uid=ibis.literal("delivery:") + owned.delivery_id,
    )


@dataclass
class Facts:
    """A profile's events, orders and deliveries from the raw tables, with ``ts`` and ``uid``."""

    events: ir.Table
    orders: ir.Table
    deliveries: ir.Table

    def of(self, kind: str) -> ir.Table:
        return {"event": self.events, "order": self.orders, "delivery": self.deliveries}[kind]


class _Auto:
    """``stored`` not given: look up what the last build stored (one small query)."""


AUTO = _Auto()


def raw_facts(wh: Warehouse, profile_id: str, *, rules: IdentityRules) -> Facts:
    """The profile's facts read from ``events``, ``orders`` and ``deliveries`` (a scan)."""
    ident = identity_of(wh, profile_id)
    return Facts(
        profile_events(wh, ident, rules),
        profile_orders(wh, profile_id),
        profile_deliveries(wh, ident),
    )


def _usable(
    wh: Warehouse, profile_id: str, stored: StoredTimeline | _Auto | None
) -> StoredTimeline | None:
    """The stored timeline's coverage when it can answer for this profile, else None."""
    if not fast.supported(wh):
        return None
    coverage = current_coverage(wh) if isinstance(stored, _Auto) else stored
    if coverage is None or not fast.untouched_since_build(wh, profile_id, coverage):
        return None
    return coverage


def _stored_rows(
    wh: Warehouse,
    profile_id: str,
    rules: IdentityRules,
    coverage: StoredTimeline,
    *,
    kinds: tuple[str, ...],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Stored rows plus what arrived since the build, newest first, at most ``limit``."""
    rows = fast.page(wh, profile_id, kinds=kinds, after=after, limit=limit)
    new_events, new_deliveries = fast.arrived_since(wh, coverage)
    new_events &= "event" in kinds
    new_deliveries &= "delivery" in kinds
    if new_events or new_deliveries:
        late = fast.late_rows(
            wh, profile_id, rules, coverage, events=new_events, deliveries=new_deliveries
        )
        if after is not None:
            at, uid = after
            late = [r for r in late if r["ts"] < at or (r["ts"] == at and r["uid"] < uid)]
        rows += late
    rows.sort(key=lambda r: (r["ts"], r["uid"]), reverse=True)
    return rows[:limit]


def _page_of(t: ir.Table, cursor: tuple[datetime, str] | None, limit: int) -> ir.Table:
    t = t.filter(t.ts.notnull())
    if cursor is not None:
        at, uid = cursor
        t = t.filter((t.ts < at) | ((t.ts == at) & (t.uid < uid)))
    return t.order_by([ibis.desc(t.ts), ibis.desc(t.uid)]).limit(limit + 1)


def _event_item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "event",
        "id": r["message_id"],
        "timestamp": r["ts"],
        "type": r["type"],
        "event": r["event"] or r["name"],
        "source": r["source"],
        "channel": r["channel"] or r["source"],
        "campaign": r["context_campaign_name"],
        "utm_source": r["context_campaign_source"],
        "utm_medium": r["context_campaign_medium"],
        "page_url": r["context_page_url"],
        "user_id": r["user_id"],
        "anonymous_id": r["anonymous_id"],
        "properties": _json(r["properties"]),
    }


def _order_item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "order",
        "id": r["order_id"],
        "timestamp": r["ts"],
        "source": r["source"],
        "channel": r["channel"] or r["source"],
        "status": r["status"],
        "total": r["total"],
        "currency": r["currency"],
        "campaign_id": r["campaign_id"],
        "coupon": r["coupon"],
        "store_id": r["store_id"],
    }


def _delivery_item(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "delivery",
        "id": r["delivery_id"],
        "timestamp": r["ts"],
        "channel": r["channel"],
        "campaign_id": r["campaign_id"],
        "journey_id": r["journey_id"],
        "template": r["template"],
        "status": r["status"],
        "error": r["error"],
    }


def _json(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text


def timeline(
    wh: Warehouse,
    profile_id: str,
    *,
    rules: IdentityRules,
    limit: int = 50,
    cursor: str | None = None,
    kinds: tuple[str, ...] = KINDS,
    stored: StoredTimeline | _Auto | None = AUTO,
) -> Page:
    """Events, orders and deliveries of the profile, newest first, one page.

    ``stored``: the stored timeline's coverage (``ProfileLookup.timeline_options`` keeps it
    checked), None to read the raw tables; by default it is looked up.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", limit, f"an integer from 1 to {MAX_LIMIT}")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValidationError("kind", unknown[0], f"one of {', '.join(KINDS)}")
    after = decode_cursor(cursor) if cursor else None
    makers = {"event": _event_item, "order": _order_item, "delivery": _delivery_item}
    coverage = _usable(wh, profile_id, stored)
    found: list[dict[str, Any]]
    if coverage is not None:
        found = _stored_rows(
            wh, profile_id, rules, coverage, kinds=kinds, after=after, limit=limit + 1
        )
    else:
        facts = raw_facts(wh, profile_id, rules=rules)
        found = []
        for kind in KINDS:
            if kind in kinds:
                rows = _page_of(facts.of(kind), after, limit).to_pyarrow().to_pylist()
                found += [{**r, "kind": kind} for r in rows]
    found.sort(key=lambda r: (r["ts"], r["uid"]), reverse=True)
    page = found[:limit]
    nxt = encode_cursor(page[-1]["ts"], page[-1]["uid"]) if len(found) > limit else None
    return Page([makers[r["kind"]](r) for r in page], nxt)


# --- conversion path -------------------------------------------------------------------


def _touch_kind(event: str | None, event_type: str | None, has_campaign: bool) -> str:
    name = (event or "").lower()
    if "clicked" in name or "tapped" in name:
        return "click"
    if "opened" in name:
        return "open"
    if event in CONTENT_EVENTS:
        return "content_view"
    return "visit" if has_campaign else "view"


def touchpoints(
    wh: Warehouse,
    profile_id: str,
    *,
    start: datetime,
    end: datetime,
    rules: IdentityRules,
    stored: StoredTimeline | _Auto | None = AUTO,
) -> list[dict[str, Any]]:
    """Campaign exposures of the profile in ``[start, end)``, oldest first.

    Kinds: ``delivery`` (a message sent and not failed), ``click`` (a message click or
    push tap), ``open``, ``visit`` (a UTM-tagged page or screen), ``content_view``.
    """
    coverage = _usable(wh, profile_id, stored)
    return one_touch_per_message(
        _touchpoints(
            _touch_rows(wh, profile_id, rules, coverage, start, end), _campaigns(wh, coverage)
        )
    )


def _campaigns(wh: Warehouse, coverage: StoredTimeline | None) -> list[dict[str, Any]]:
    if coverage is not None:
        return fast.campaign_names(wh)
    return list(wh.table("campaigns").select("campaign_id", "name").to_pyarrow().to_pylist())


def _is_touch(r: dict[str, Any]) -> bool:
    if r["kind"] == "event":
        return bool(r["context_campaign_name"]) or r["event"] in CONTENT_EVENTS
    status = (r["status"] or "").lower()
    return r["kind"] == "delivery" and status not in NOT_TOUCH_DELIVERY_STATUSES


def _touch_rows(
    wh: Warehouse,
    profile_id: str,
    rules: IdentityRules,
    coverage: StoredTimeline | None,
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    """Events and deliveries that count as touches in ``[start, end)``, with ``kind``."""
    if coverage is not None:
        rows = fast.touches(wh, profile_id, start, end)
        new_events, new_deliveries = fast.arrived_since(wh, coverage)
        if new_events or new_deliveries:
            late = fast.late_rows(
                wh, profile_id, rules, coverage, events=new_events, deliveries=new_deliveries
            )
            rows += [r for r in late if start <= r["ts"] < end and _is_touch(r)]
        return rows
    facts = raw_facts(wh, profile_id, rules=rules)
    e = facts.events
    e = e.filter(e.ts >= start, e.ts < end)
    touched = e.filter(
        (e.context_campaign_name.notnull() & (e.context_campaign_name != ""))
        | e.event.isin(CONTENT_EVENTS)
    )
    d = facts.deliveries
    d = d.filter(
        d.ts >= start,
        d.ts < end,
        d.status.isnull() | ~d.status.lower().isin(NOT_TOUCH_DELIVERY_STATUSES),
    )
    return [{**r, "kind": "event"} for r in touched.to_pyarrow().to_pylist()] + [
        {**r, "kind": "delivery"} for r in d.to_pyarrow().to_pylist()
    ]


def _touchpoints(
    rows: list[dict[str, Any]], campaigns: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    name_of = {str(c["campaign_id"]): c["name"] for c in campaigns}
    by_name: dict[str, list[str]] = {}
    for c in campaigns:
        by_name.setdefault(str(c["name"]), []).append(str(c["campaign_id"]))
    out: list[dict[str, Any]] = []
    for r in rows:
        if r["kind"] == "delivery":
            out.append(
                {
                    "at": r["ts"],
                    "kind": "delivery",
                    "channel": r["channel"],
                    "campaign_id": r["campaign_id"],
                    "campaign": name_of.get(str(r["campaign_id"])),
                    "utm_source": None,
                    "utm_medium": None,
                    "event": r["template"],
                    "content_id": None,
                    "id": r["delivery_id"],
                    "outbox_id": r.get("outbox_id"),
                    "step": r["status"],
                }
            )
            continue
        name = r["context_campaign_name"] or None
        ids = by_name.get(name or "", [])
        ours = r["context_campaign_source"] == OUR_CAMPAIGN_SOURCE
        props = _json(r["properties"]) if r["event"] in CONTENT_EVENTS or ours else {}
        props = props if isinstance(props, dict) else {}
        kind = _touch_kind(r["event"], r["type"], name is not None)
        # An open or click of one of our messages names it (channels/engagement.py).
        outbox_id = props.get("outbox_id") if ours else None
        out.append(
            {
                "at": r["ts"],
                "kind": _touch_kind(r["event"], r["type"], name is not None),
                "channel": r["channel"] or r["source"],
                "campaign_id": ids[0] if len(ids) == 1 else None,
                "campaign": name,
                "utm_source": r["context_campaign_source"],
                "utm_medium": r["context_campaign_medium"],
                "event": r["event"] or r["name"] or r["type"],
                "content_id": props.get("content_id"),
                "id": r["message_id"],
                "outbox_id": outbox_id if isinstance(outbox_id, int) else None,
                "step": EVENT_STEPS.get(kind) if isinstance(outbox_id, int) else None,
            }
        )
    out.sort(key=lambda t: (t["at"], t["id"]))
    return out


def one_touch_per_message(touches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A message is one touch: of the touches naming the same ``outbox_id`` (its sent,
    delivered, opened, clicked rows, and the open and click events), the furthest step
    stays (ties: the latest), oldest first like the rest. Touches with no outbox id (an
    older delivery log, a UTM visit) are each their own."""
    best: dict[int, dict[str, Any]] = {}
    rest: list[dict[str, Any]] = []
    for t in touches:
        message = t.get("outbox_id")
        if message is None:
            rest.append(t)
            continue
        kept = best.get(message)
        if kept is None or _reach(t) >= _reach(kept):
            best[message] = t
    out = rest + list(best.values())
    out.sort(key=lambda t: (t["at"], t["id"]))
    return out


def _reach(touch: dict[str, Any]) -> tuple[int, datetime]:
    return STEP_RANK.get(str(touch.get("step") or "").lower(), 0), touch["at"]


def conversion_paths(
    wh: Warehouse,
    profile_id: str,
    *,
    rules: IdentityRules,
    lookback_days: int = 30,
    limit: int = 20,
    stored: StoredTimeline | _Auto | None = AUTO,
) -> list[dict[str, Any]]:
    """For each of the profile's last ``limit`` orders: its touchpoints in the lookback window.

    The window is ``[ordered_at - lookback_days, ordered_at)``: a touch at the order's
    own time is not counted, as it cannot have caused it. Windows of successive orders
    may overlap; each order is given every touch of its window (as last-touch and
    multi-touch attribution models read them).
    """
    if not 1 <= lookback_days <= 366:
        raise ValidationError("lookback_days", lookback_days, "an integer from 1 to 366")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", limit, f"an integer from 1 to {MAX_LIMIT}")
    coverage = _usable(wh, profile_id, stored)
    if coverage is not None:
        orders = fast.orders(wh, profile_id, limit)
    else:
        o = profile_orders(wh, profile_id)
        o = o.filter(
            o.ordered_at.notnull(),
            o.status.isnull() | ~o.status.lower().isin(VOID_ORDER_STATUSES),
        )
        orders = (
            o.order_by([ibis.desc(o.ordered_at), ibis.desc(o.order_id)])
            .limit(limit)
            .to_pyarrow()
            .to_pylist()
        )
    if not orders:
        return []
    window = timedelta(days=lookback_days)
    start = min(r["ordered_at"] for r in orders) - window
    end = max(r["ordered_at"] for r in orders)
    campaigns = _campaigns(wh, coverage)
    touches = _touchpoints(_touch_rows(wh, profile_id, rules, coverage, start, end), campaigns)
    name_of = {str(c["campaign_id"]): c["name"] for c in campaigns}
    paths = []
    for r in orders:
        at = r["ordered_at"]
        path = one_touch_per_message([t for t in touches if at - window <= t["at"] < at])
        campaign = r["campaign_id"]
        paths.append(
            {
                "order_id": r["order_id"],
                "ordered_at": at,
                "channel": r["channel"] or r["source"],
                "total": r["total"],
                "currency": r["currency"],
                "campaign_id": campaign,
                "campaign": name_of.get(str(campaign)) if campaign else None,
                "campaign_touched": bool(campaign)
                and any(t["campaign_id"] == campaign for t in path),
                "touchpoints": path,
            }
        )
    return paths
