"""The segment updater: a durable consumer that moves people in and out as events arrive.

It reads stored events after its checkpoint (``consumers/``: in ``load_seq`` order, at
least once), and for each batch:

1. finds the segments the batch can change: those whose ``event_names()`` include an
   event name of the batch (or any, for ``None``);
2. maps the batch's events to the profiles holding their identifiers
   (``affected.affected_profiles``), re-evaluates only those profiles
   (``compile.members`` with ``profile_ids``; on DuckDB through SQL compiled once per
   segment, see ``templates.py``), and applies the result (``membership.apply``): exits
   closed, entries opened and their ``Segment Entered`` / ``Segment Exited`` events
   stored, in one transaction;
3. goes through the segments in dependency order, so a segment defined by another
   ("member of") re-evaluates the people who just came into or left that one.

A replayed batch (a crash before the checkpoint) re-evaluates the same people and finds
nothing left to change, so nothing is published twice. The updater skips its own
``Segment Entered`` / ``Exited`` events: it has already handed their changes on within
the batch (step 3). Events of a person without a profile map to nobody; they count from
the ``profiles`` job's next run (every 15 minutes), after which the ``segments`` job
refreshes every segment in full. Time windows that expire with no event ("not purchased
in 30 days") are the ``segments`` job's: clock-sensitive segments are re-evaluated
whole on each of its runs.

Example (``omni serve`` registers it on the Platform's consumer runner)::

    runner = ConsumerRunner(access, Checkpoints(opstore), [SegmentUpdater.of(platform)])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.consumers.runner import StartAt
from omnichannel.identity.rules import IdentityRules
from omnichannel.segments.affected import affected_profiles
from omnichannel.segments.membership import EVENT_SOURCE, apply, raw_duckdb
from omnichannel.segments.refresh import RefreshResult
from omnichannel.segments.store import SegmentStore, StoredSegment
from omnichannel.segments.templates import Templates
from omnichannel.warehouse.access import WarehouseAccess

if TYPE_CHECKING:
    from omnichannel.platform import Platform

log = logging.getLogger(__name__)

CONSUMER_NAME = "segments"
# The columns of ``events`` the updater reads from a batch (other engines than DuckDB).
_COLUMNS = ("event", "source", "user_id", "anonymous_id", "context_device_id", "properties")


@dataclass
class SegmentUpdater:
    """Re-evaluates the people a batch of events concerns, for the segments it can change."""

    access: WarehouseAccess
    store: SegmentStore
    rules: Callable[[], IdentityRules]
    name: str = CONSUMER_NAME
    # History is the batch refresh's: the updater only follows what arrives from now on.
    start_at: StartAt = "end"
    # Told of every segment a batch changed (tests, the benchmark, metrics later).
    on_change: list[Callable[[RefreshResult], None]] = field(default_factory=list)
    # Each segment's queries, compiled once (DuckDB; see templates.py).
    templates: Templates = field(init=False)

    def __post_init__(self) -> None:
        self.templates = Templates(self.access)

    @classmethod
    def of(cls, platform: Platform) -> SegmentUpdater:
        """The updater of an installation, its queries compiling ahead of the first batch."""
        store = SegmentStore(platform.opstore)
        updater = cls(platform.warehouse, store, lambda: platform.config.rules)
        if platform.warehouse.engine == "duckdb":
            updater.templates.warm(store.in_dependency_order(), platform.config.rules)
        return updater

    def handle(self, batch: pa.Table) -> None:
        source = batch.column("source")
        own = pc.fill_null(pc.equal(source, EVENT_SOURCE), False)
        facts = batch.filter(pc.invert(own))
        if facts.num_rows == 0:
            return
        segments = self.store.in_dependency_order()
        if not segments:
            return
        names = {n for n in facts.column("event").to_pylist() if n is not None}
        newest = pc.max(batch.column("load_seq")).as_py()
        rules = self.rules()
        changed: dict[str, frozenset[str]] = {}
        for segment in segments:
            wanted = segment.definition.event_names()
            upstream: set[str] = set()
            for other in segment.definition.referenced_segments():
                upstream |= changed.get(other, frozenset())
            triggered = wanted is None or bool(wanted & names)
            if not triggered and not upstream:
                continue
            ids = set(upstream)
            if triggered:
                ids |= set(self._affected(facts, rules, wanted).column("profile_id").to_pylist())
            if not ids:
                continue
            scope = pa.table({"profile_id": pa.array(sorted(ids), pa.string())})
            result = self._update(segment, scope, rules, newest)
            changed[segment.name] = result.changed
            if result.changed:
                log.info(
                    "segment %s: %d entered, %d exited (real time)",
                    segment.name,
                    result.entered,
                    result.exited,
                )
                for listener in self.on_change:
                    listener(result)

    def _affected(self, facts: pa.Table, rules: IdentityRules, wanted: set[str] | None) -> pa.Table:
        with self.access.reader() as wh:
            con = raw_duckdb(wh)
            if con is not None:
                return self.templates.affected(wh, con, facts, rules, wanted)
            events = ibis.memtable(facts.select(list(_COLUMNS)))
            return affected_profiles(wh, events, rules, names=wanted).to_pyarrow()

    def _update(
        self, segment: StoredSegment, scope: pa.Table, rules: IdentityRules, newest: int | None
    ) -> RefreshResult:
        """Evaluate ``scope`` for ``segment`` on a reader, apply on the writer path."""
        from omnichannel.segments.compile import members

        started = time.perf_counter()
        snapshot_at = datetime.now(UTC).replace(tzinfo=None)
        with self.access.reader() as wh:
            con = raw_duckdb(wh)
            if con is not None:
                found, _ = self.templates.members(wh, con, segment, scope, rules)
            else:
                now = datetime.now(UTC).replace(tzinfo=None)
                expr = members(
                    segment.definition, wh, now=now, profile_ids=ibis.memtable(scope), rules=rules
                )
                found = expr.select("profile_id").to_pyarrow()
        with self.access.writer() as wh:
            change = apply(
                wh,
                segment.name,
                found,
                now=datetime.now(UTC).replace(tzinfo=None),
                version=segment.version,
                scope=scope,
                reason="realtime",
                mode="realtime",
                load_seq=newest,
                seconds=time.perf_counter() - started,
                snapshot_at=snapshot_at,
            )
        entered = change.entered.column("profile_id").to_pylist()
        exited = change.exited.column("profile_id").to_pylist()
        return RefreshResult(
            segment=segment.name,
            members=change.members,
            entered=len(entered),
            exited=len(exited),
            seconds=time.perf_counter() - started,
            mode="realtime",
            evaluated=scope.num_rows,
            changed=frozenset(entered + exited),
        )
