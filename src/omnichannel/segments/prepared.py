"""A segment's SQL compiled once, then run again at other clocks: ``member_ids``.

Building a segment's Ibis expression and compiling it to SQL is Python work on every
call (0.13 s for the three-condition benchmark segment at a million profiles, on a
quiet machine, a third of the query's own time), and the batch refresh and the
real-time updater evaluate the same segments again and again. So the SQL is kept, per:

- the condition tree (a changed definition is another entry; a segment's *name* is not
  part of it, so two segments alike share one);
- the engine and the warehouse's schema version;
- the identity rules (how events' ids are typed);
- the event path the warehouse allows now (``state.py``: the build's timeline while it
  is current, else every event mapped through the identifiers), and whether the build
  wrote ``profile_devices``;
- the profiles evaluated: all, or those of a scope view.

What changes from call to call is bound as a parameter, not written into the SQL: the
clock (``now``; windows are ``now - INTERVAL '30' DAY`` in SQL) and the time the
timeline covers events up to (``through``: a rebuilt timeline is a new value, so the
new events are read from the new mark and none is counted twice). Both are read again
on every call, by the one query of ``state.event_state``.

On DuckDB the parameters are bound by DuckDB (``$now``; it plans with their values, the
plan is the one the literals give); on PostgreSQL by psycopg. Other engines keep the
Ibis expression and compile it with the values on each call (``params=``), which still
skips building it.

Example::

    ids = member_ids(definition, wh, now=datetime.now(UTC))   # pa.Table: profile_id
    cache_info()                                              # {"hits": ..., "misses": ...}
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from omnichannel.identity.rules import IdentityRules
from omnichannel.segments.definition import SegmentDefinition
from omnichannel.segments.membership import raw_duckdb
from omnichannel.segments.sources import EventSource, Sources
from omnichannel.segments.state import EventState, event_state
from omnichannel.warehouse import Warehouse

# The view a scope of profiles (``pa.Table``) is registered as on DuckDB.
SCOPE_TABLE = "omni_segment_ids"
MAX_ENTRIES = 256
# Stand-ins the SQL is compiled with, then replaced by placeholders: times no condition
# names (a document's dates are parsed as themselves and would be left as they are).
_SENTINELS = {
    "now": datetime(1001, 1, 1, 1, 1, 1, 100101),
    "through": datetime(1002, 2, 2, 2, 2, 2, 200202),
}
_PLACEHOLDER = {"duckdb": "CAST(${name} AS TIMESTAMP)", "postgres": "CAST(%({name})s AS TIMESTAMP)"}
_SCOPE_SCHEMA = pa.schema([pa.field("profile_id", pa.string())])


@dataclass(frozen=True)
class Prepared:
    """One segment's members query, with the names of the parameters it takes."""

    engine: str
    sql: str | None  # None: run ``expr`` through Ibis with ``params``
    names: tuple[str, ...]
    schema: pa.Schema
    # Kept only for ``sql`` None: an expression holds the connection it was built on.
    expr: ir.Table | None
    params: dict[str, ir.Scalar]

    def run(self, wh: Warehouse, values: dict[str, datetime | None]) -> pa.Table:
        bound = {name: values[name] for name in self.names}
        if self.sql is None:
            assert self.expr is not None
            at = {self.params[name]: value for name, value in bound.items()}
            # On this connection: the expression's tables name the one it was built on.
            return wh.con.to_pyarrow(self.expr, params=at)
        if self.engine == "duckdb":
            con = raw_duckdb(wh)
            assert con is not None
            return con.execute(self.sql, bound or None).to_arrow_table()
        cursor = wh.con.raw_sql(self.sql, params=bound or None)
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[]] * len(self.schema)
        return pa.table(
            [pa.array(c, f.type) for c, f in zip(columns, self.schema, strict=True)],
            schema=self.schema,
        )


class QueryCache:
    """Prepared queries by key, the least recently used dropped past ``max_entries``."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Prepared] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Prepared | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, prepared: Prepared) -> None:
        with self._lock:
            self._entries[key] = prepared
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0

    def info(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "entries": len(self._entries)}


CACHE = QueryCache()


def cache_info() -> dict[str, int]:
    """Hits, misses and entries of the process's cache of segment queries."""
    return CACHE.info()


def member_ids(
    definition: SegmentDefinition,
    wh: Warehouse,
    *,
    now: datetime,
    rules: IdentityRules | None = None,
    event_source: EventSource = "auto",
    scope: pa.Table | str | None = None,
    state: EventState | None = None,
) -> pa.Table:
    """The members as of ``now`` (one column ``profile_id``, distinct), by SQL compiled
    once per segment and warehouse state (see the module docstring).

    ``scope``: only these profiles (a table with ``profile_id``, or the name of a view
    on ``wh``'s connection holding them). ``state``: ``event_state(wh)`` when the caller
    has just read it.
    """
    from omnichannel.segments.compile import default_rules, naive_utc, node_members

    rules = rules or default_rules()
    state = state if state is not None else event_state(wh)
    scope_name = _scope_name(wh, scope)
    if scope is not None and scope_name is None:
        # A scope this engine cannot be handed by name: the expression, built each call.
        assert isinstance(scope, pa.Table)
        src = Sources(
            wh=wh,
            now=naive_utc(now),
            rules=rules,
            profile_ids=ibis.memtable(scope),
            event_source=event_source,
            state=state,
        )
        return node_members(definition.condition, src).select("profile_id").to_pyarrow()
    prepared, values = prepare_members(
        definition,
        wh,
        now=now,
        rules=rules,
        event_source=event_source,
        scope_name=scope_name,
        state=state,
    )
    if scope_name != SCOPE_TABLE:
        return prepared.run(wh, values)
    con = raw_duckdb(wh)
    assert con is not None and isinstance(scope, pa.Table)
    con.register(SCOPE_TABLE, scope.select(["profile_id"]).cast(_SCOPE_SCHEMA))
    try:
        return prepared.run(wh, values)
    finally:
        con.unregister(SCOPE_TABLE)


def prepare_members(
    definition: SegmentDefinition,
    wh: Warehouse,
    *,
    now: datetime,
    rules: IdentityRules | None = None,
    event_source: EventSource = "auto",
    scope_name: str | None = None,
    state: EventState | None = None,
) -> tuple[Prepared, dict[str, datetime | None]]:
    """The cached query of ``member_ids`` (compiled now if it is not cached) and the
    values of its parameters at ``now``; ``scope_name``: a view of the profiles to
    evaluate. For a caller that compiles ahead (the real-time updater) or runs the SQL
    itself (the benchmark)."""
    from omnichannel.segments.compile import default_rules, naive_utc

    rules = rules or default_rules()
    state = state if state is not None else event_state(wh)
    through = state.timeline_through if event_source in ("auto", "timeline") else None
    key = (
        "members",
        wh.engine,
        wh.schema_report.version,
        repr(definition.condition),
        repr(rules),
        "timeline" if through is not None else "identifiers",
        state.has_devices if through is not None else None,
        scope_name,
    )
    prepared = CACHE.get(key)
    if prepared is None:
        prepared = _prepare(definition, wh, rules, event_source, state, scope_name)
        CACHE.put(key, prepared)
    return prepared, {"now": naive_utc(now), "through": through}


def _scope_name(wh: Warehouse, scope: pa.Table | str | None) -> str | None:
    if isinstance(scope, str) or scope is None:
        return scope
    return SCOPE_TABLE if raw_duckdb(wh) is not None else None


def _prepare(
    definition: SegmentDefinition,
    wh: Warehouse,
    rules: IdentityRules,
    event_source: EventSource,
    state: EventState,
    scope_name: str | None,
) -> Prepared:
    from omnichannel.segments.compile import node_members

    scope = None if scope_name is None else ibis.table(_SCOPE_SCHEMA, name=scope_name)
    src = Sources(
        wh=wh,
        now=_SENTINELS["now"],
        rules=rules,
        profile_ids=scope,
        event_source=event_source,
        state=state,
        parameters=True,
    )
    expr = node_members(definition.condition, src).select("profile_id")
    schema = expr.schema().to_pyarrow()
    # A clock asked for but not used (a test with no moment in it) is no parameter.
    found = set(expr.op().find(ops.ScalarParameter))
    names = tuple(n for n, p in src.params.items() if p.op() in found)
    through_ibis = Prepared(wh.engine, None, names, schema, expr, {n: src.params[n] for n in names})
    placeholder = _PLACEHOLDER.get(wh.engine)
    if placeholder is None:
        return through_ibis
    sql = wh.con.compile(expr, params={src.params[n]: _SENTINELS[n] for n in names})
    if wh.engine == "postgres":
        sql = sql.replace("%", "%%")  # psycopg reads every % as a placeholder's start
    for name in names:
        rendered = _literal_sql(wh, _SENTINELS[name])
        if rendered not in sql:
            # Written some other way than the compiler writes it alone: a query left
            # with the stand-in time would be wrong, so this one goes through Ibis.
            return through_ibis
        sql = sql.replace(rendered, placeholder.format(name=name))
    return Prepared(wh.engine, sql, names, schema, None, through_ibis.params)


def _literal_sql(wh: Warehouse, value: datetime) -> str:
    """How the engine's compiler writes the timestamp ``value``."""
    select: Any = wh.con.compiler.to_sqlglot(ibis.literal(value, "timestamp").name("v"))
    return str(select.expressions[0].this.sql(dialect=wh.con.dialect))


__all__ = ["CACHE", "Prepared", "QueryCache", "cache_info", "member_ids", "prepare_members"]
