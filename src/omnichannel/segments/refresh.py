"""Batch refresh: compute a segment's members and move its membership history to them.

``refresh`` evaluates a stored segment (``prepared.member_ids``) on a reader, so the loader
keeps appending meanwhile, then applies the result on the writer path in one
transaction (``membership.apply``): exits closed, entries opened, their events stored.

``plan`` decides how much a scheduled run must evaluate. A full run evaluates everyone;
an incremental one only the profiles that new events can have moved, when nothing else
can have moved anyone since the last batch run:

- the definition is the one the last run used (same version);
- no profile build happened since (traits, tags and identities are as they were);
- the definition is not clock-sensitive ("in the last 30 days", "not since", a
  ``days_ago``): those expire by the clock alone, so each scheduled run is full.

Otherwise the profiles of the events stored since the last run (``load_seq`` after its
baseline), of the names the definition reads (``event_names()``), are evaluated; none:
the run only records its new baseline. ``refresh_all`` runs every stored segment in
dependency order, so a "member of" segment reads its referenced segment's new members.

Example::

    result = refresh(platform.warehouse, store.get("vip"), now=datetime.now(UTC))
    result.members, result.entered, result.exited
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from omnichannel.identity.rules import IdentityRules
from omnichannel.segments.affected import affected_profiles
from omnichannel.segments.membership import REFRESHES, apply
from omnichannel.segments.store import SegmentStore, StoredSegment
from omnichannel.warehouse import Warehouse
from omnichannel.warehouse.access import WarehouseAccess

Progress = Callable[[str, int, int], None]
BATCH_MODES = ("full", "incremental")


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh of one segment did."""

    segment: str
    members: int
    entered: int
    exited: int
    seconds: float
    mode: str = "full"
    evaluated: int | None = None  # profiles evaluated (None: everyone)
    # Who came in or left: a "member of" segment re-evaluates them next.
    changed: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "members": self.members,
            "entered": self.entered,
            "exited": self.exited,
            "seconds": round(self.seconds, 3),
            "mode": self.mode,
            "evaluated": self.evaluated,
        }


@dataclass(frozen=True)
class Plan:
    """How a scheduled run refreshes one segment: everyone, some profiles, or nobody."""

    mode: str  # full | incremental
    profile_ids: pa.Table | None  # incremental: the profiles to evaluate
    why: str


def _now(now: datetime | None) -> datetime:
    at = now or datetime.now(UTC)
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


@contextmanager
def _reading(where: WarehouseAccess | Warehouse) -> Iterator[Warehouse]:
    if isinstance(where, WarehouseAccess):
        with where.reader() as wh:
            yield wh
    else:
        yield where


@contextmanager
def _writing(where: WarehouseAccess | Warehouse) -> Iterator[Warehouse]:
    if isinstance(where, WarehouseAccess):
        with where.writer() as wh:
            yield wh
    else:
        yield where


def latest_load_seq(wh: Warehouse) -> int:
    value = wh.table("events").load_seq.max().to_pyarrow().as_py()
    return int(value or 0)


def last_profiles_build(wh: Warehouse) -> datetime | None:
    b = wh.table("profile_builds")
    value = b.filter(b.status == "built").built_at.max().to_pyarrow().as_py()
    return value


def last_batch_refresh(wh: Warehouse, segment: str) -> dict[str, Any] | None:
    """The newest full or incremental run of ``segment`` (real-time updates aside)."""
    r = wh.table(REFRESHES)
    rows = (
        r.filter(r.segment == segment, r.mode.isin(list(BATCH_MODES)))
        .order_by([ibis.desc(r.refreshed_at), ibis.desc(r.load_seq)])
        .limit(1)
        .to_pyarrow()
        .to_pylist()
    )
    return rows[0] if rows else None


def refresh(
    where: WarehouseAccess | Warehouse,
    segment: StoredSegment,
    *,
    now: datetime | None = None,
    profile_ids: ir.Table | pa.Table | None = None,
    rules: IdentityRules | None = None,
    mode: str | None = None,
    reason: str = "refresh",
    publish: bool = True,
) -> RefreshResult:
    """Evaluate ``segment`` (only ``profile_ids``, if given) and apply the result.

    ``where`` is the platform's ``WarehouseAccess`` (evaluation on a reader, the change
    on the writer path) or one ``Warehouse`` used for both (a CLI run without a server).
    ``rules`` are the installation's identity rules (how events' ids are typed).
    """
    from omnichannel.segments.prepared import member_ids

    at = _now(now)
    started = time.perf_counter()
    scope = None
    if profile_ids is not None:
        scope = profile_ids.to_pyarrow() if isinstance(profile_ids, ir.Table) else profile_ids
        scope = scope.select(["profile_id"])
    # Taken before anything is read: a change an evaluation after this one made while
    # this one ran (the real-time updater's) is newer than what this run found.
    snapshot_at = datetime.now(UTC).replace(tzinfo=None)
    with _reading(where) as wh:
        # Read before evaluating: anything stored later is looked at by the next run.
        baseline = latest_load_seq(wh)
        built_at = last_profiles_build(wh)
        if scope is not None and scope.num_rows == 0:
            found = scope  # nobody to evaluate: only the baseline moves
        else:
            # The SQL compiled once per segment and warehouse state: a run of the job
            # after the first binds its clock and skips Ibis (``prepared.py``).
            found = member_ids(segment.definition, wh, now=at, rules=rules, scope=scope)
    run_mode = mode or ("full" if scope is None else "incremental")
    with _writing(where) as wh:
        change = apply(
            wh,
            segment.name,
            found,
            now=at,
            version=segment.version,
            scope=scope,
            reason=reason,
            mode=run_mode,
            load_seq=baseline,
            profiles_built_at=built_at,
            seconds=time.perf_counter() - started,
            publish=publish,
            snapshot_at=snapshot_at,
        )
    return RefreshResult(
        segment=segment.name,
        members=change.members,
        entered=change.entered.num_rows,
        exited=change.exited.num_rows,
        seconds=time.perf_counter() - started,
        mode=run_mode,
        evaluated=None if scope is None else scope.num_rows,
        changed=frozenset(
            change.entered.column("profile_id").to_pylist()
            + change.exited.column("profile_id").to_pylist()
        ),
    )


def plan(wh: Warehouse, segment: StoredSegment, rules: IdentityRules) -> Plan:
    """Full or incremental for a scheduled run (see the module docstring)."""
    definition = segment.definition
    last = last_batch_refresh(wh, segment.name)
    if last is None:
        return Plan("full", None, "never refreshed")
    if last["version"] != segment.version:
        return Plan("full", None, f"definition changed (version {segment.version})")
    if definition.clock_sensitive():
        return Plan("full", None, "membership can change by the clock")
    if last_profiles_build(wh) != last["profiles_built_at"]:
        return Plan("full", None, "profiles were rebuilt")
    since = int(last["load_seq"] or 0)
    events = wh.table("events")
    new = events.filter(events.load_seq > since)
    ids = affected_profiles(
        wh,
        new,
        rules,
        names=definition.event_names(),
        referenced=definition.referenced_segments(),
    ).to_pyarrow()
    return Plan("incremental", ids, f"{ids.num_rows} profiles with events after {since}")


def refresh_all(
    access: WarehouseAccess | Warehouse,
    store: SegmentStore,
    rules: IdentityRules,
    *,
    now: datetime | None = None,
    full: bool = False,
    progress: Progress | None = None,
) -> list[RefreshResult]:
    """Refresh every stored segment, each after those it is defined by."""
    segments = store.in_dependency_order()
    results: list[RefreshResult] = []
    at = _now(now)
    for done, segment in enumerate(segments):
        if progress is not None:
            progress(f"refresh {segment.name}", done, len(segments))
        if full:
            chosen = Plan("full", None, "asked for")
        else:
            with _reading(access) as wh:
                chosen = plan(wh, segment, rules)
        results.append(
            refresh(
                access,
                segment,
                now=at,
                profile_ids=chosen.profile_ids,
                rules=rules,
                mode=chosen.mode,
            )
        )
    if progress is not None:
        progress("refresh", len(segments), len(segments))
    return results
