"""The facts segment conditions read, each attributed to a profile, as Ibis tables.

Events reach a profile two ways:

- ``timeline``: ``profile_timeline`` (written by the profile build, keyed and sorted by
  ``profile_id``) for the events it covers, plus the events loaded after its coverage
  mapped through ``profile_identifiers``. Used while the identity graph is the one the
  build read (a resolve since then may have merged or split the profiles it names).
- ``identifiers``: every event mapped through ``profile_identifiers`` by its user id,
  else its anonymous id, else its device id, typed per source as the identity rules
  type them (a WeChat anonymous id is a ``wechat_openid``).

Both give the same rows, except an event known only by a linked device id: the build
attributes by user id, else anonymous id, so once the timeline covers such an event only
``identifiers`` counts it. Which is faster is measured by ``benchmarks/segment_query.py``
(see docs/segments.md). Filters (event names, the window) are applied to the raw rows
before the mapping joins, so the joins see only the candidate events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast

import ibis
import ibis.expr.types as ir

from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.timeline_store import TIMELINE_TABLE, current_coverage
from omnichannel.profiles.traits.base import VOID_ORDER_STATUSES, linked_identifiers, typed_id
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.tables import BY_NAME

EventSource = Literal["auto", "timeline", "identifiers"]
EVENT_COLUMNS = ("profile_id", "ts", "event", "channel", "source", "properties")
BEHAVIOUR_COLUMNS = (
    "event",
    "source",
    "channel",
    "properties",
    "user_id",
    "anonymous_id",
    "context_device_id",
)
RAW_COLUMNS = (
    "event",
    "source",
    "channel",
    "properties",
    "user_id",
    "anonymous_id",
    "context_device_id",
    "context_os_name",
    "context_device_type",
    "context_app_name",
    "context",
    "loaded_at",
)


class CachedTables:
    """The warehouse seen through a cache of its tables: one schema read per table.

    Each ``Warehouse.table`` asks the engine for the table's schema (tens of milliseconds
    on a busy machine); an evaluation names the same tables many times.
    """

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self.con = wh.con
        self.engine = wh.engine
        self._tables: dict[str, ir.Table] = {}
        self._names: list[str] | None = None

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            known = name in BY_NAME
            self._tables[name] = self.wh.table(name) if known else self.wh.con.table(name)
        return self._tables[name]

    def has(self, name: str) -> bool:
        if self._names is None:
            self._names = list(self.wh.con.list_tables())
        return name in self._names


@dataclass
class Sources:
    """One evaluation's relations: the warehouse, its clock, and the profiles evaluated."""

    wh: Warehouse
    now: datetime
    rules: IdentityRules
    profile_ids: ir.Table | None = None
    event_source: EventSource = "auto"
    _chosen: str | None = field(default=None, init=False)
    _tables: CachedTables | None = field(default=None, init=False)
    _coverage_through: datetime | None = field(default=None, init=False)

    @property
    def tables(self) -> CachedTables:
        if self._tables is None:
            self._tables = CachedTables(self.wh)
        return self._tables

    def table(self, name: str) -> ir.Table:
        return self.tables.table(name)

    def linked_ids(self) -> ir.Table:
        return linked_identifiers(cast(Warehouse, self.tables))

    def only_evaluated(self, t: ir.Table) -> ir.Table:
        """``t`` restricted to the profiles under evaluation (all when none were given)."""
        if self.profile_ids is None:
            return t
        ids = self.profile_ids.select(profile_id=self.profile_ids[self.profile_ids.columns[0]])
        # A view ends the join chain: PostgreSQL's compiler otherwise renders a semi or
        # anti join that follows another one as "LEFT ANTI JOIN", which it cannot parse.
        return t.semi_join(ids, "profile_id").view()

    def universe(self) -> ir.Table:
        """Every known profile: built ones and those the identity graph made since."""
        p = self.table("profiles").select("profile_id")
        pi = self.table("profile_identifiers").select("profile_id")
        return self.only_evaluated(ibis.union(p, pi, distinct=True))

    def profiles(self) -> ir.Table:
        return self.table("profiles")

    # --- events ---

    def chosen_event_source(self) -> str:
        if self._chosen is None:
            self._chosen = "identifiers"
            if self.event_source in ("auto", "timeline"):
                has_timeline = self.tables.has(TIMELINE_TABLE)
                coverage = current_coverage(cast(Warehouse, self.tables)) if has_timeline else None
                usable = (
                    coverage is not None
                    and coverage.identity_current
                    and coverage.events_loaded_through is not None
                )
                if usable:
                    assert coverage is not None
                    self._chosen = "timeline"
                    self._coverage_through = coverage.events_loaded_through
        return self._chosen

    def events(
        self,
        names: list[str] | None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> ir.Table:
        """``EVENT_COLUMNS`` of the events named (any when None), ``start <= ts < end``."""
        # Few operations on purpose: Ibis's compile time grows quickly with nested selects.
        carried = list(EVENT_COLUMNS[1:])
        if self.chosen_event_source() == "identifiers":
            raw = self._raw_events(names, start, end, BEHAVIOUR_COLUMNS)
            return self.only_evaluated(self.attribute(raw, carried))
        raw = self._raw_events(names, start, end, BEHAVIOUR_COLUMNS, newer=True)
        tl = self.table(TIMELINE_TABLE)
        named = [tl.event.isin(names)] if names is not None else []
        tl = tl.filter(tl.kind == "event", *named, *self._window(tl.ts, start, end))
        stored = self.only_evaluated(tl.select(*EVENT_COLUMNS))
        fresh = self.only_evaluated(self.attribute(raw, carried))
        return ibis.union(stored, fresh, distinct=False)

    def _raw_events(
        self,
        names: list[str] | None,
        start: datetime | None,
        end: datetime | None,
        columns: tuple[str, ...] = RAW_COLUMNS,
        *,
        newer: bool = False,
    ) -> ir.Table:
        e = self.table("events")
        ts = e.timestamp.coalesce(e.original_timestamp, e.received_at)
        conditions = self._window(ts, start, end)
        if names is not None:
            conditions.append(e.event.isin(names))
        if newer:
            # Events loaded after the timeline's coverage; appended in load order, so the
            # engine skips the older row groups by their min/max.
            conditions.append(e.loaded_at > ibis.literal(self._coverage_through, "timestamp"))
        # Only the columns conditions read: narrower plans, and less for Ibis to compile.
        return e.filter(*conditions).select(*columns, ts=ts)

    def device_events(self, start: datetime | None, end: datetime | None) -> ir.Table:
        """Raw events (``RAW_COLUMNS`` plus ``ts``) in the window, for device conditions."""
        return self._raw_events(None, start, end)

    @staticmethod
    def _window(
        ts: ir.TimestampValue, start: datetime | None, end: datetime | None
    ) -> list[ir.BooleanValue]:
        conditions = [ts.notnull()]
        if start is not None:
            conditions.append(ts >= ibis.literal(start, "timestamp"))
        if end is not None:
            conditions.append(ts < ibis.literal(end, "timestamp"))
        return conditions

    def attribute(self, e: ir.Table, carried: list[str]) -> ir.Table:
        """``profile_id`` (the profile of the event's user id, else of its anonymous id,
        else of its device id) and the ``carried`` columns (``channel``: else the source)."""
        ids = self.linked_ids()
        typed = e.mutate(
            _user_type=typed_id(e.source, "user_id", self.rules),
            _anon_type=typed_id(e.source, "anonymous_id", self.rules),
        )
        by_user = ids.select(_ut="id_type", _uv="id_value", _up="profile_id")
        by_anon = ids.select(_at="id_type", _av="id_value", _ap="profile_id")
        device = ids.filter(ids.id_type == "device_id")
        by_device = device.select(_dv="id_value", _dp="profile_id")
        joined = (
            typed.left_join(
                by_user,
                [typed._user_type == by_user._ut, typed.user_id.strip() == by_user._uv],
            )
            .left_join(
                by_anon,
                [typed._anon_type == by_anon._at, typed.anonymous_id.strip() == by_anon._av],
            )
            .left_join(by_device, typed.context_device_id.strip() == by_device._dv)
        )
        profile = joined._up.coalesce(joined._ap, joined._dp)
        values = {
            c: joined.channel.coalesce(joined.source) if c == "channel" else joined[c]
            for c in carried
        }
        return joined.filter(profile.notnull()).select(profile_id=profile, **values)

    # --- orders ---

    def orders(self, start: datetime | None, end: datetime | None) -> ir.Table:
        """Purchases (void statuses excluded) with ``profile_id``, ``channel``, ``total``.

        An order is an identity record (``record_profiles``); one loaded since the last
        resolve is found by its buyer's user id instead.
        """
        o = self.table("orders")
        o = o.filter(
            *self._window(o.ordered_at, start, end),
            o.status.isnull() | ~o.status.lower().isin(VOID_ORDER_STATUSES),
        )
        rp = self.table("record_profiles").select(
            _rs="source", _rid="record_id", _record_profile="profile_id"
        )
        ids = self.linked_ids().rename(_user_profile="profile_id", _ut="id_type", _uv="id_value")
        typed = o.mutate(_user_type=typed_id(o.source, "user_id", self.rules))
        joined = typed.left_join(rp, [typed.source == rp._rs, typed.order_id == rp._rid]).left_join(
            ids, [typed._user_type == ids._ut, typed.user_id.strip() == ids._uv]
        )
        out = joined.select(
            profile_id=joined._record_profile.coalesce(joined._user_profile),
            ts=joined.ordered_at,
            channel=joined.channel.coalesce(joined.source),
            store_id=joined.store_id,
            total=joined.total.coalesce(0).cast("float64"),
        )
        return self.only_evaluated(out.filter(out.profile_id.notnull()))

    # --- affinities and memberships ---

    def affinities(self, kind: str, value: str) -> ir.Table:
        a = self.table("profile_affinities")
        a = a.filter(a.kind == kind, a.value == value)
        return self.only_evaluated(a.select("profile_id", value=a.score))
