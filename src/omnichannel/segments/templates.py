"""The updater's queries compiled once per segment, then run on each batch (DuckDB).

Turning a segment's Ibis expression into SQL costs far more than running it on a
batch's few profiles (about 1 s against 0.25 s on the shared 2-core machine), and the
updater runs the same two queries on every batch: which profiles the batch's events
belong to, and which of those are members. So each is compiled once against a view
of a fixed name, and a batch only re-registers that view (its events, or the profiles
to evaluate) on the updater's connection and runs the SQL.

The members query is ``prepared.member_ids`` over the scope view: its clock and the
timeline's mark are bound on every batch, so "in the last 30 days" is as of the batch
and a profile build since the compile moves the mark at once; a changed definition,
other identity rules or a timeline no longer usable (a resolve since the build) is
another query, compiled on first use. The batch query (which profiles the events
belong to) has no clock; it is compiled again in the background once it is
``MAX_AGE`` old (the old one answers meanwhile). The ``segments`` job re-evaluates
clock-sensitive segments whole on its schedule, which is what moves people out by the
clock alone. ``warm`` compiles every stored segment's queries ahead of the first batch.

Other engines run the Ibis expressions directly (``realtime.py`` falls back).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import ibis.expr.types as ir
import pyarrow as pa

from omnichannel.identity.rules import IdentityRules
from omnichannel.segments.affected import affected_profiles
from omnichannel.segments.membership import raw_duckdb
from omnichannel.segments.store import StoredSegment
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.access import WarehouseAccess
from omnichannel.warehouse.store import conform
from omnichannel.warehouse.tables import EVENTS

log = logging.getLogger(__name__)

MAX_AGE = timedelta(seconds=60)
BATCH_VIEW = "omni_segment_batch"
SCOPE_VIEW = "omni_segment_scope"
_SCOPE_SCHEMA = pa.schema([pa.field("profile_id", pa.string())])
_EMPTY_SCOPE = _SCOPE_SCHEMA.empty_table()


@dataclass
class _Compiled:
    sql: str
    compiled_at: float  # time.monotonic()
    now: datetime
    # SQL naming an in-memory table runs only on the connection Ibis registered it on,
    # and only while its expression lives: kept here, with that connection's thread.
    expr: object
    thread: int | None


def _register_views(con: duckdb.DuckDBPyConnection, batch: pa.Table, scope: pa.Table) -> None:
    con.register(BATCH_VIEW, batch)
    con.register(SCOPE_VIEW, scope)


class Templates:
    """Compiled SQL of the updater's two queries, per segment."""

    def __init__(self, access: WarehouseAccess, max_age: timedelta = MAX_AGE) -> None:
        self.access = access
        self.max_age = max_age.total_seconds()
        self._compiled: dict[Hashable, _Compiled] = {}
        self._pending: set[Hashable] = set()
        self._lock = threading.Lock()
        self.compiles = 0

    # --- the two queries ---------------------------------------------------------------

    def affected(
        self,
        wh: Warehouse,
        con: duckdb.DuckDBPyConnection,
        batch: pa.Table,
        rules: IdentityRules,
        names: set[str] | None,
    ) -> pa.Table:
        """``affected_profiles`` of ``batch`` (events columns) for a segment's ``names``."""
        con.register(BATCH_VIEW, _as_events(batch))
        key = ("affected", None if names is None else frozenset(names), id(rules))

        def build(w: Warehouse) -> ir.Table:
            return affected_profiles(w, w.con.table(BATCH_VIEW), rules, names=names)

        return self._run(wh, con, key, build)[0]

    def members(
        self,
        wh: Warehouse,
        con: duckdb.DuckDBPyConnection,
        segment: StoredSegment,
        scope: pa.Table,
        rules: IdentityRules,
    ) -> tuple[pa.Table, datetime]:
        """The members among ``scope``, and the clock they were evaluated at."""
        from omnichannel.segments.prepared import member_ids

        con.register(SCOPE_VIEW, scope.select(["profile_id"]).cast(_SCOPE_SCHEMA))
        now = _utc_now()
        found = member_ids(segment.definition, wh, now=now, rules=rules, scope=SCOPE_VIEW)
        return found, now

    def warm(self, segments: list[StoredSegment], rules: IdentityRules) -> threading.Thread:
        """Compile every segment's templates in the background, ahead of the first batch."""

        def work() -> None:
            for segment in segments:
                self._prepare_members_aside(segment, rules)
                names = segment.definition.event_names()

                def build(w: Warehouse, names: set[str] | None = names) -> ir.Table:
                    return affected_profiles(w, w.con.table(BATCH_VIEW), rules, names=names)

                key = ("affected", None if names is None else frozenset(names), id(rules))
                self._compile_aside(key, build)

        thread = threading.Thread(target=work, name="segment-templates", daemon=True)
        thread.start()
        return thread

    # --- compiling -----------------------------------------------------------------------

    def _run(
        self,
        wh: Warehouse,
        con: duckdb.DuckDBPyConnection,
        key: Hashable,
        build: Callable[[Warehouse], ir.Table],
    ) -> tuple[pa.Table, datetime]:
        with self._lock:
            found = self._compiled.get(key)
        me = threading.get_ident()
        if found is not None and found.thread not in (None, me):
            found = None  # its in-memory tables live on another connection
        if found is None:
            now = _utc_now()
            expr = build(wh)
            sql = wh.sql(expr)
            portable = "memtable" not in sql
            self._keep(key, _Compiled(sql, time.monotonic(), now, expr, None if portable else me))
            # Through Ibis the first time: it registers any in-memory table it names.
            return expr.to_pyarrow(), now
        if time.monotonic() - found.compiled_at > self.max_age:
            if found.thread is None:
                self._refresh_aside(key, build)
            else:
                with self._lock:
                    self._compiled.pop(key, None)
        return con.execute(found.sql).to_arrow_table(), found.now

    def _keep(self, key: Hashable, compiled: _Compiled) -> None:
        with self._lock:
            self._compiled[key] = compiled
            self._pending.discard(key)
            self.compiles += 1

    def _refresh_aside(self, key: Hashable, build: Callable[[Warehouse], ir.Table]) -> None:
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
        threading.Thread(
            target=self._compile_aside, args=(key, build), name="segment-templates", daemon=True
        ).start()

    def _prepare_members_aside(self, segment: StoredSegment, rules: IdentityRules) -> None:
        """Compile ``segment``'s members query into ``member_ids``'s cache."""
        from omnichannel.segments.prepared import prepare_members

        try:
            with self.access.reader() as wh:
                definition = segment.definition
                prepare_members(definition, wh, now=_utc_now(), rules=rules, scope_name=SCOPE_VIEW)
            with self._lock:
                self.compiles += 1
        except Exception:
            # Not fatal: the query compiles on use (as ``_compile_aside`` below).
            log.debug("segment templates: a background compile failed", exc_info=True)

    def _compile_aside(self, key: Hashable, build: Callable[[Warehouse], ir.Table]) -> None:
        """Compile on this thread's own reader; keep the SQL if it runs anywhere."""
        try:
            with self.access.reader() as wh:
                con = raw_duckdb(wh)
                if con is None:
                    return
                _register_views(con, conform(EVENTS, pa.table({})), _EMPTY_SCOPE)
                now = _utc_now()
                expr = build(wh)
                sql = wh.sql(expr)
            if "memtable" not in sql:
                self._keep(key, _Compiled(sql, time.monotonic(), now, expr, None))
        except Exception:
            # Not fatal: the query compiles on use, where a real problem surfaces as the
            # consumer's error (this also happens when the warehouse closes meanwhile).
            log.debug("segment templates: a background compile failed", exc_info=True)
        finally:
            with self._lock:
                self._pending.discard(key)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _as_events(batch: pa.Table) -> pa.Table:
    """The batch with every ``events`` column, typed as stored (what the SQL expects)."""
    return conform(EVENTS, batch.select([c for c in batch.column_names if c in EVENTS.schema]))
