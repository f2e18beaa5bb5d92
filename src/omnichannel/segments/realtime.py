"""The segment updater: a durable consumer that moves people in and out as events arrive.

It reads stored events after its checkpoint (``consumers/``: in ``load_seq`` order, at
least once), and for each batch:

1. finds the segments the batch can change: those whose ``event_names()`` include an
   event name of the batch (or any, for ``None``);
2. maps the batch's events to the profiles holding their identifiers
   (``affected.affected_profiles``) and re-evaluates only those profiles, with
   ``refresh(..., profile_ids=...)``, which closes exits and opens entries and stores
   their ``Segment Entered`` / ``Segment Exited`` events in one transaction;
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
from omnichannel.segments.membership import EVENT_SOURCE
from omnichannel.segments.refresh import RefreshResult, refresh
from omnichannel.segments.store import SegmentStore
from omnichannel.warehouse.access import WarehouseAccess

if TYPE_CHECKING:
    from omnichannel.platform import Platform

log = logging.getLogger(__name__)

CONSUMER_NAME = "segments"
# The columns of ``events`` the updater reads from a batch.
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

    @classmethod
    def of(cls, platform: Platform) -> SegmentUpdater:
        store = SegmentStore(platform.opstore)
        return cls(platform.warehouse, store, lambda: platform.config.rules)

    def handle(self, batch: pa.Table) -> None:
        source = batch.column("source")
        own = pc.fill_null(pc.equal(source, EVENT_SOURCE), False)
        facts = batch.filter(pc.invert(own)).select(list(_COLUMNS))
        if facts.num_rows == 0:
            return
        segments = self.store.in_dependency_order()
        if not segments:
            return
        names = {n for n in facts.column("event").to_pylist() if n is not None}
        rules = self.rules()
        now = datetime.now(UTC).replace(tzinfo=None)
        events = ibis.memtable(facts)
        changed: dict[str, frozenset[str]] = {}
        for segment in segments:
            wanted = segment.definition.event_names()
            upstream: set[str] = set()
            for other in segment.definition.referenced_segments():
                upstream |= changed.get(other, frozenset())
            triggered = wanted is None or bool(wanted & names)
            if not triggered and not upstream:
                continue
            ids: list[str] = []
            if triggered:
                with self.access.reader() as wh:
                    found = affected_profiles(wh, events, rules, names=wanted).to_pyarrow()
                ids = found.column("profile_id").to_pylist()
            scope = sorted(set(ids) | upstream)
            if not scope:
                continue
            result = refresh(
                self.access,
                segment,
                now=now,
                profile_ids=pa.table({"profile_id": pa.array(scope, pa.string())}),
                rules=rules,
                mode="realtime",
                reason="realtime",
            )
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
