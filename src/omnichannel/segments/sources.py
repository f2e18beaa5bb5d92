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
``identifiers`` counts it.

Device conditions read ``profile_devices`` the same way (``device_seen``): the build's
per-profile device combinations with their last time seen, plus the events loaded since,
instead of every event's context. Which is faster is measured by ``benchmarks/segment_query.py``
(see docs/segments.md). Filters (event names, the window) are applied to the raw rows
before the mapping joins, so the joins see only the candidate events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeAlias, cast

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from omnichannel.identity.rules import IdentityRules
from omnichannel.profiles.timeline_store import SCHEMA as TIMELINE_SCHEMA
from omnichannel.profiles.timeline_store import TIMELINE_TABLE
from omnichannel.profiles.traits.base import (
    DEVICE_FIELDS,
    VOID_ORDER_STATUSES,
    device_columns,
    typed_id,
)
from omnichannel.profiles.traits.devices import DEVICES_TABLE
from omnichannel.profiles.traits.devices import SCHEMA as DEVICES_SCHEMA
from omnichannel.segments.state import EventState, event_state
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.tables import BY_NAME

EventSource = Literal["auto", "timeline", "identifiers"]
# A moment in a condition: a fixed time, or one computed from the evaluation's clock
# (``Sources.clock``) in SQL.
Moment: TypeAlias = datetime | ir.TimestampValue
# A device condition's test, given the device fields (``DEVICE_FIELDS``, ``push_token``).
DeviceMatch = Callable[[dict[str, ir.Value]], ir.BooleanValue]
EVENT_COLUMNS = ("profile_id", "ts", "event", "channel", "source", "properties")
ID_COLUMNS = ("source", "user_id", "anonymous_id", "context_device_id")
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


def timestamp(at: Moment) -> ir.TimestampValue:
    """``at`` as an Ibis timestamp (a literal when it is a fixed time)."""
    return at if isinstance(at, ir.Expr) else ibis.literal(at, "timestamp")


def where(predicate: ir.BooleanValue) -> ir.BooleanValue:
    """``predicate`` for a WHERE clause, without its ``coalesce(..., False)`` guards.

    A test is ``coalesce(test, False)`` so that NULL fails it even when negated; a filter
    keeps only rows where it is true, which NULL never is, so there the guard changes
    nothing, and it hides the comparison from the engine: DuckDB pushes ``os_name =
    'iOS'`` into the scan of the compressed column but evaluates ``COALESCE(os_name =
    'iOS', false)`` row by row (half the scan time of ``profile_devices``).
    """
    op = predicate.op()
    if (
        isinstance(op, ops.Coalesce)
        and len(op.arg) == 2
        and isinstance(op.arg[1], ops.Literal)
        and op.arg[1].value is False
    ):
        return where(cast(ir.BooleanValue, op.arg[0].to_expr()))
    if isinstance(op, ops.And | ops.Or):
        left = where(cast(ir.BooleanValue, op.left.to_expr()))
        right = where(cast(ir.BooleanValue, op.right.to_expr()))
        return left & right if isinstance(op, ops.And) else left | right
    return predicate


# Tables the warehouse creates with a schema known here: read without asking the engine.
KNOWN_SCHEMAS: dict[str, ibis.Schema] = {
    **{name: spec.schema for name, spec in BY_NAME.items()},
    TIMELINE_TABLE: TIMELINE_SCHEMA,
    DEVICES_TABLE: DEVICES_SCHEMA,
}


class CachedTables:
    """The warehouse seen through a cache of its tables: no schema read for the tables the
    warehouse creates (``KNOWN_SCHEMAS``), one per evaluation for any other.

    Each ``Warehouse.table`` asks the engine for the table's schema (2-3 ms each on DuckDB,
    tens of milliseconds on a busy machine; an evaluation names seven tables, about a
    tenth of a three-condition segment's time at a million profiles). The warehouse
    creates those tables with these schemas and upgrades them when it opens, and the
    build writes its tables with them, so the engine's answer would be the same.
    """

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self.con = wh.con
        self.engine = wh.engine
        self._tables: dict[str, ir.Table] = {}

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            schema = KNOWN_SCHEMAS.get(name)
            if schema is None:
                self._tables[name] = self.wh.con.table(name)
            else:
                op = ops.DatabaseTable(
                    name,
                    schema=schema,
                    source=self.con,
                    namespace=ops.Namespace(catalog=None, database=None),
                )
                self._tables[name] = op.to_expr()
        return self._tables[name]


@dataclass
class Sources:
    """One evaluation's relations: the warehouse, its clock, and the profiles evaluated."""

    wh: Warehouse
    now: datetime
    rules: IdentityRules
    profile_ids: ir.Table | None = None
    event_source: EventSource = "auto"
    # What the warehouse holds for choosing the event path (one query, ``state.py``);
    # read on first use when not given.
    state: EventState | None = None
    # The clock and the timeline's coverage as SQL parameters instead of literals, for SQL
    # compiled once and run again at other clocks (``prepared.py``).
    parameters: bool = False
    params: dict[str, ir.Scalar] = field(default_factory=dict, init=False)
    _chosen: str | None = field(default=None, init=False)
    _tables: CachedTables | None = field(default=None, init=False)
    _coverage_through: datetime | None = field(default=None, init=False)
    # The stand-in for the identifiers of new events, and the id columns it must cover.
    _newer_ids: ir.Table | None = field(default=None, init=False)
    _event_ids: ir.Table | None = field(default=None, init=False)
    _wanted: list[ir.Table] = field(default_factory=list, init=False)

    @property
    def tables(self) -> CachedTables:
        if self._tables is None:
            self._tables = CachedTables(self.wh)
        return self._tables

    def table(self, name: str) -> ir.Table:
        return self.tables.table(name)

    @property
    def clock(self) -> ir.TimestampValue:
        """The evaluation's ``now`` as an Ibis timestamp: windows are computed from it in
        SQL (``now - INTERVAL '30' DAY``), so it is the query's one clock value."""
        return self.moment("now", self.now)

    def moment(self, name: str, value: datetime) -> ir.TimestampValue:
        """``value`` as a literal, or as the parameter ``name`` (``parameters``)."""
        if not self.parameters:
            return ibis.literal(value, "timestamp")
        if name not in self.params:
            self.params[name] = ibis.param("timestamp")
        return cast(ir.TimestampValue, self.params[name])

    def event_state(self) -> EventState:
        if self.state is None:
            self.state = event_state(self.wh)
        return self.state

    def linked_ids(self) -> ir.Table:
        """``linked_identifiers`` of the types an event's or order's ids can be typed as
        (user, anonymous and device ids, as the rules type them per source), filtered
        before the grouping: an installation's emails, phones and loyalty cards are
        most of its identifiers, and no event column is read as one of them."""
        if self._event_ids is None:
            types = sorted(
                {*self._types_of("user_id"), *self._types_of("anonymous_id"), "device_id"}
            )
            pi = self.table("profile_identifiers")
            linked = pi.filter(pi.status == "linked", pi.id_type.isin(types))
            # A linked value sits in one profile; min() guards against a partial write.
            self._event_ids = linked.group_by(["id_type", "id_value"]).agg(
                profile_id=linked.profile_id.min()
            )
        return self._event_ids

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
                through = self.event_state().timeline_through
                if through is not None:
                    self._chosen = "timeline"
                    self._coverage_through = through
        return self._chosen

    def events(
        self,
        names: list[str] | None,
        start: Moment | None = None,
        end: Moment | None = None,
        columns: Sequence[str] = EVENT_COLUMNS[1:],
    ) -> ir.Table:
        """``profile_id`` and ``columns`` (of ``EVENT_COLUMNS``) of the events named (any
        when None), ``start <= ts < end``.

        Ask for the columns the condition reads: each one carried through the union and
        the identifier joins is more for Ibis to compile and the engine to move.
        """
        # Few operations on purpose: Ibis's compile time grows quickly with nested selects.
        carried = [c for c in EVENT_COLUMNS[1:] if c in columns]
        raw_columns = tuple(dict.fromkeys([*(c for c in carried if c != "ts"), *ID_COLUMNS]).keys())
        if self.chosen_event_source() == "identifiers":
            raw = self._raw_events(names, start, end, raw_columns)
            return self.only_evaluated(self.attribute(raw, carried))
        raw = self._raw_events(names, start, end, raw_columns, newer=True)
        tl = self.table(TIMELINE_TABLE)
        named = [tl.event.isin(names)] if names is not None else []
        tl = tl.filter(tl.kind == "event", *named, *self._window(tl.ts, start, end))
        stored = self.only_evaluated(tl.select("profile_id", *carried))
        fresh = self.only_evaluated(self.attribute(raw, carried, few=True))
        return ibis.union(stored, fresh, distinct=False)

    def _raw_events(
        self,
        names: list[str] | None,
        start: Moment | None,
        end: Moment | None,
        columns: tuple[str, ...] = RAW_COLUMNS,
        *,
        newer: bool = False,
    ) -> ir.Table:
        e = self.table("events")
        ts = e.timestamp.coalesce(e.original_timestamp, e.received_at)
        conditions = self._window(ts, start, end)
        # The same window on ``timestamp`` alone, passing where it is NULL (``ts`` is then
        # another column's): a test the engine pushes into the scan, so that row groups
        # outside the window are skipped by their min/max (events are stored in load
        # order, about the order of time). 2,000,000 "Order Completed" events read to
        # keep 160,000 of the last 30 days took twice as long without it.
        if start is not None:
            conditions.append(e.timestamp.isnull() | (e.timestamp >= timestamp(start)))
        if end is not None:
            conditions.append(e.timestamp.isnull() | (e.timestamp < timestamp(end)))
        if names is not None:
            conditions.append(e.event.isin(names))
        if newer:
            # Events loaded after the timeline's coverage; appended in load order, so the
            # engine skips the older row groups by their min/max.
            assert self._coverage_through is not None
            conditions.append(e.loaded_at > self.moment("through", self._coverage_through))
        # Only the columns conditions read: narrower plans, and less for Ibis to compile.
        return e.filter(*conditions).select(*columns, ts=ts)

    def device_seen(
        self, start: Moment | None, end: Moment | None, matches: DeviceMatch
    ) -> ir.Table:
        """``profile_id, last_seen``: the last time an event in ``[start, end)`` came from a
        device that ``matches`` (called with the device fields as columns). A profile may
        have several rows.

        With the timeline path and an open-ended window, the build's ``profile_devices``
        answers for the events it covers (a combination seen since ``start`` has its last
        time seen after it) and only the events loaded since are read; a window with an end
        (``between``) needs each event's time, so it reads the events.
        """
        summary = (
            end is None
            and self.chosen_event_source() == "timeline"
            and self.event_state().has_devices
        )
        if not summary:
            return self._device_seen_in(self._raw_events(None, start, end), matches)
        d = self.table(DEVICES_TABLE)
        since = [d.last_seen >= timestamp(start)] if start is not None else []
        stored = d.filter(where(matches({c: d[c] for c in (*DEVICE_FIELDS, "push_token")})), *since)
        fresh = self._raw_events(None, start, end, newer=True)
        return ibis.union(
            self.only_evaluated(stored.select("profile_id", "last_seen")),
            self._device_seen_in(fresh, matches, few=True),
            distinct=False,
        )

    def _device_seen_in(
        self, raw: ir.Table, matches: DeviceMatch, *, few: bool = False
    ) -> ir.Table:
        e = raw.filter(where(matches(device_columns(raw))))
        # Many events share a person's ids: group them per id combination first, so the
        # identifier joins see one row per combination instead of one per event.
        per_ids = e.group_by(list(ID_COLUMNS)).agg(last_seen=e.ts.max())
        return self.only_evaluated(self.attribute(per_ids, ["last_seen"], few=few))

    @staticmethod
    def _window(
        ts: ir.TimestampValue, start: Moment | None, end: Moment | None
    ) -> list[ir.BooleanValue]:
        conditions = [ts.notnull()]
        if start is not None:
            conditions.append(ts >= timestamp(start))
        if end is not None:
            conditions.append(ts < timestamp(end))
        return conditions

    def attribute(self, e: ir.Table, carried: list[str], *, few: bool = False) -> ir.Table:
        """``profile_id`` (the profile of the event's user id, else of its anonymous id,
        else of its device id) and the ``carried`` columns (``channel``: else the source).

        ``few``: ``e`` holds few events (those loaded since the build), so only their own
        identifiers are looked up.
        """
        # The identifier tables are joined as they are and only the columns wanted are
        # selected from the join: renamed copies of them and an intermediate projection
        # of every column made the expression twice as large, and Ibis's compile time
        # (tens of milliseconds a segment) follows its size.
        if few:
            ids = self._linked_ids_of(e)
            by_user, by_anon = ids.view(), ids.view()
        else:
            # Each join reads only the identifier types its column can be typed as: the
            # hash table of each is built from those rows alone (a million user ids, not
            # every one of two million identifiers).
            ids = self.linked_ids()
            by_user = ids.filter(ids.id_type.isin(self._types_of("user_id")))
            by_anon = ids.filter(ids.id_type.isin(self._types_of("anonymous_id")))
        by_device = ids.filter(ids.id_type == "device_id")
        user_type = typed_id(e.source, "user_id", self.rules)
        anon_type = typed_id(e.source, "anonymous_id", self.rules)
        joined = (
            e.left_join(
                by_user, [user_type == by_user.id_type, e.user_id.strip() == by_user.id_value]
            )
            .left_join(
                by_anon,
                [anon_type == by_anon.id_type, e.anonymous_id.strip() == by_anon.id_value],
            )
            .left_join(by_device, e.context_device_id.strip() == by_device.id_value)
        )
        profile = by_user.profile_id.coalesce(by_anon.profile_id, by_device.profile_id)
        values = {c: e.channel.coalesce(e.source) if c == "channel" else e[c] for c in carried}
        out = joined.select(profile_id=profile, **values)
        return out.filter(out.profile_id.notnull())

    def _types_of(self, column: str) -> list[str]:
        """The identifier types ``typed_id`` can read an event's ``column`` as."""
        mapped = {m[column] for m in self.rules.source_id_types.values() if column in m}
        return sorted({column, *mapped})

    def _linked_ids_of(self, e: ir.Table) -> ir.Table:
        """``linked_ids`` for the ids ``e`` carries, looked up once per evaluation.

        Grouping every identifier (two million at a million profiles) to map a few
        thousand new events took seconds, and so did one lookup per condition: each
        scans every identifier. So each condition adds the ids of its new events to one
        set and gets a stand-in table, which ``bind`` replaces by the one lookup of them
        all when the expression is complete.
        """
        # One row per id of each event (user, anonymous, device): one scan of ``e``.
        ids = ibis.array([e[c].strip() for c in ID_COLUMNS[1:]])
        self._wanted.append(e.select(v=ids.unnest()))
        if self._newer_ids is None:
            self._newer_ids = ibis.table(
                {"id_type": "string", "id_value": "string", "profile_id": "string"},
                name=f"omni_newer_ids_{id(self):x}",
            )
        return self._newer_ids

    def bind(self, expr: ir.Table) -> ir.Table:
        """``expr`` with the identifier lookup of the new events in place (see
        ``_linked_ids_of``); every expression built from these sources goes through it."""
        if self._newer_ids is None:
            return expr
        pi = self.table("profile_identifiers")
        # No DISTINCT: the IN below is a semi-join, which a repeated value does not change.
        values = (
            ibis.union(*self._wanted, distinct=False) if len(self._wanted) > 1 else self._wanted[0]
        )
        linked = pi.filter(pi.status == "linked", pi.id_value.isin(values.v))
        found = linked.group_by(["id_type", "id_value"]).agg(profile_id=linked.profile_id.min())
        return cast(ir.Table, expr.op().replace({self._newer_ids.op(): found.op()}).to_expr())

    # --- orders ---

    def orders(self, start: Moment | None, end: Moment | None) -> ir.Table:
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
