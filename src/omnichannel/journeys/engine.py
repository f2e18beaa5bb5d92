"""The journey engine's state machine in the operational store: claim, decide, record.

An enrolment is due when it is open (active or waiting), its ``due_at`` has passed, its
journey is ``live`` and no live lease holds it. A worker *claims* a batch of due
enrolments by writing its name and a lease expiry on them (PostgreSQL picks the rows
``FOR UPDATE SKIP LOCKED``, so workers in several processes never wait for or take each
other's rows; SQLite has one writer at a time). The steps' effects happen outside any
transaction of ours, each keyed by ``journey:{enrolment}:{visit}`` (the outbox, the event
store and the enrolments' ``entry_ref`` refuse a second one). Then *one transaction per
batch* writes every executed step's ``journey_steps`` row and moves each enrolment on
(step, visit + 1, due_at, state), each conditional on the lease still being ours and the
visit unchanged, and releases the leases.

A worker killed at any point leaves either no trace of the step (it runs again after the
lease expires, its effects returning the first ones: ``duplicate``) or the step recorded
and the enrolment moved on. A worker that lost its lease (it hung past the expiry and
another took over) records nothing: its conditional update finds no row.

``decide`` is in ``journeys/steps.py``; ``journeys/runtime.py`` runs the loop.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, func, or_, select, type_coerce, update
from sqlalchemy.orm import Session

from omnichannel.journeys.definition import JourneyDefinition, parse_journey, routes
from omnichannel.opstore.models import (
    OPEN_ENROLMENT_STATES,
    EnrolmentState,
    Journey,
    JourneyEnrolment,
    JourneyStatus,
    JourneyStep,
    JourneyVersion,
    UTCDateTime,
)

DEFAULT_LEASE = timedelta(seconds=30)
DEFAULT_BATCH = 200


def worker_name() -> str:
    """This process's lease holder name: host, pid and a random part (a restarted
    process with a reused pid is someone else)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Claimed:
    """One enrolment as claimed: its columns, its journey's document, the step to run."""

    id: int
    journey_id: int
    journey_name: str
    journey_version: int
    definition: JourneyDefinition
    subject: str
    profile_id: str | None
    entry_key: str
    state: EnrolmentState
    step: str | None
    visit: int
    due_at: datetime
    wait_event: str | None
    matched_at: datetime | None
    arm: str | None
    context: dict[str, Any]
    goal_until: datetime | None
    # The visit the enrolment was claimed at (steps run one after another in a batch
    # are recorded together, guarded by it).
    first_visit: int = -1

    def __post_init__(self) -> None:
        if self.first_visit < 0:
            self.first_visit = self.visit


@dataclass
class Decision:
    """What running a claimed enrolment's step decided.

    ``outcome`` set: the step executed, recorded in ``journey_steps`` with ``route``
    followed (``next``, ``then``, an arm...), the next step due at ``due_at``. ``outcome``
    None: no step executed (a wait for an event begins, a send waits for the person's
    profile); only ``changes`` and ``due_at`` are written. ``finish``: the enrolment ends
    (``completed`` or ``exited``, with ``exit_reason``).
    """

    claimed: Claimed
    outcome: str | None = None
    route: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    outbox_id: int | None = None
    due_at: datetime | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    finish: EnrolmentState | None = None
    exit_reason: str | None = None
    # A wait_for that timed out: recorded only if no event matched meanwhile.
    unless_matched: bool = False
    # An effect made in the recording transaction itself (an enter step's enrolment),
    # run once the enrolment's advance applied; it may set the outcome and detail.
    in_record: Callable[[Session, Decision], None] | None = None

    @property
    def kind(self) -> str:
        return str(self.detail.get("kind", ""))


# --- claiming ------------------------------------------------------------------------


def _due(now: datetime) -> Any:
    return and_(
        JourneyEnrolment.state.in_(OPEN_ENROLMENT_STATES),
        JourneyEnrolment.due_at <= now,
        or_(JourneyEnrolment.lease_until.is_(None), JourneyEnrolment.lease_until < now),
        JourneyEnrolment.journey_id.in_(
            select(Journey.id).where(Journey.status == JourneyStatus.LIVE)
        ),
    )


class Definitions:
    """Parsed journey documents by (journey, version): versions never change once saved."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[int, int], tuple[str, JourneyDefinition]] = {}

    def get(self, session: Session, keys: set[tuple[int, int]]) -> dict[tuple[int, int], Any]:
        missing = [k for k in keys if k not in self._parsed]
        if missing:
            wanted = {j for j, _ in missing}
            rows = session.execute(
                select(JourneyVersion.journey_id, JourneyVersion.version, JourneyVersion.definition)
                .where(JourneyVersion.journey_id.in_(wanted))
                .where(JourneyVersion.version.in_({v for _, v in missing}))
            ).all()
            names = {
                journey_id: name
                for journey_id, name in session.execute(
                    select(Journey.id, Journey.name).where(Journey.id.in_(wanted))
                )
            }
            for journey_id, version, document in rows:
                self._parsed[(journey_id, version)] = (names[journey_id], parse_journey(document))
        return {k: self._parsed[k] for k in keys if k in self._parsed}


_CLAIMED_COLUMNS = (
    "id",
    "journey_id",
    "journey_version",
    "subject",
    "profile_id",
    "entry_key",
    "state",
    "step",
    "visit",
    "due_at",
    "wait_event",
    "matched_at",
    "arm",
    "context",
    "goal_until",
)


def claim(
    session: Session,
    *,
    holder: str,
    limit: int,
    lease: timedelta,
    now: datetime,
    definitions: Definitions,
) -> list[Claimed]:
    """Lease up to ``limit`` due enrolments of live journeys to ``holder``, earliest due first.

    One statement: ``UPDATE ... WHERE id IN (the due ones, LIMIT n [FOR UPDATE SKIP
    LOCKED]) RETURNING`` the columns the steps need (SQLite 3.35+ and PostgreSQL)."""
    table = cast(Table, JourneyEnrolment.__table__)
    pick = select(table.c.id).where(_due(now)).order_by(table.c.due_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # In a CTE, evaluated once: as an IN (subquery) PostgreSQL may run the locking
        # subquery again for each row it updates, leasing more than ``limit`` rows.
        # The rows it locked are due (PostgreSQL re-checks the condition on the version it
        # locks), so the update joins them by id alone: repeating the condition made the
        # planner scan every due row for each picked one.
        picked = pick.with_for_update(skip_locked=True).cte("picked")
        chosen = [table.c.id == picked.c.id]
    else:
        chosen = [table.c.id.in_(pick.scalar_subquery()), _due(now)]
    returned = [table.c[name] for name in _CLAIMED_COLUMNS]
    rows = sorted(
        session.execute(
            update(table)
            .where(*chosen)
            .values(lease_holder=holder, lease_until=now + lease)
            .returning(*returned)
        ),
        key=lambda r: (r.due_at, r.id),
    )
    found = definitions.get(session, {(r.journey_id, r.journey_version) for r in rows})
    claimed: list[Claimed] = []
    for r in rows:
        name, definition = found[(r.journey_id, r.journey_version)]
        claimed.append(
            Claimed(
                id=r.id,
                journey_id=r.journey_id,
                journey_name=name,
                journey_version=r.journey_version,
                definition=definition,
                subject=r.subject,
                profile_id=r.profile_id,
                entry_key=r.entry_key,
                state=EnrolmentState(r.state),
                step=r.step,
                visit=r.visit,
                due_at=cast(datetime, r.due_at),
                wait_event=r.wait_event,
                matched_at=r.matched_at,
                arm=r.arm,
                context=dict(r.context or {}),
                goal_until=r.goal_until,
            )
        )
    return claimed


def renew(session: Session, *, holder: str, ids: Sequence[int], until: datetime) -> None:
    """Push our leases on ``ids`` to ``until`` (a batch that takes long keeps them)."""
    session.execute(
        update(JourneyEnrolment)
        .where(JourneyEnrolment.id.in_(list(ids)), JourneyEnrolment.lease_holder == holder)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )


def release(
    session: Session, *, holder: str, ids: Sequence[int], due_at: datetime | None = None
) -> int:
    """Give up our leases on ``ids`` (a step that failed: due again at ``due_at``)."""
    values: dict[str, Any] = {"lease_holder": None, "lease_until": None}
    if due_at is not None:
        values["due_at"] = due_at
    result = session.execute(
        update(JourneyEnrolment)
        .where(JourneyEnrolment.id.in_(list(ids)), JourneyEnrolment.lease_holder == holder)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- chaining steps that are due at once ---------------------------------------------

# Steps after which the next step may run in the same batch, before this one is recorded:
# their outcome is the same when run again after a crash (a split is a hash, a send's
# and an update's effects are keyed by the visit), so a re-run takes the same path. A
# condition may answer differently later, and an enter enrols in the recording
# transaction: the batch stops there, and the next round goes on.
CHAINABLE = frozenset({"split", "send", "webhook", "update", "wait_for"})


def follow(decision: Decision, now: datetime) -> Claimed | None:
    """The enrolment as it is once ``decision`` applies, if its next step is due now and
    may run in the same batch; else None."""
    c = decision.claimed
    if decision.outcome is None or decision.finish is not None or decision.in_record:
        return None
    if decision.kind not in CHAINABLE or c.step is None:
        return None
    if (decision.due_at or now) > now or decision.changes.get("state") is not None:
        return None
    target = routes(c.definition.steps[c.step]).get(decision.route or "next")
    if target is None:
        return None
    changes = decision.changes
    return replace(
        c,
        step=target,
        visit=c.visit + 1,
        state=EnrolmentState.ACTIVE,
        due_at=now,
        wait_event=None,
        matched_at=None,
        arm=changes.get("arm", c.arm),
        profile_id=changes.get("profile_id", c.profile_id),
        context=changes.get("context", c.context),
        first_visit=c.first_visit,
    )


# --- recording -----------------------------------------------------------------------


def _values(decision: Decision, now: datetime) -> dict[str, Any]:
    """The enrolment's new column values for ``decision``."""
    c = decision.claimed
    values: dict[str, Any] = {
        "lease_holder": None,
        "lease_until": None,
        "updated_at": now,
        **decision.changes,
    }
    if decision.outcome is None and decision.finish is None:
        values["due_at"] = decision.due_at or now
        return values
    finish = decision.finish
    target: str | None = None
    if decision.outcome is not None:
        values["visit"] = c.visit + 1
        values["wait_event"] = None
        values["matched_at"] = None
        step = c.definition.steps[c.step] if c.step is not None else None
        target = routes(step).get(decision.route or "next") if step is not None else None
        due = decision.due_at or now
        if finish is None and target is None and due <= now and "state" not in decision.changes:
            finish = EnrolmentState.COMPLETED  # the end of a path
        if finish is None:
            # A path that ends after a wait (no next) is finished when the wait is over.
            values.update(step=target, due_at=due)
            values.setdefault("state", EnrolmentState.ACTIVE)
    if finish is not None:
        values.update(
            state=finish,
            step=None,
            due_at=None,
            open_key=None,
            finished_at=now,
            exit_reason=decision.exit_reason,
        )
    return values


# One compiled UPDATE per set of columns decisions change (a wait, an exit...).
_STATEMENTS: dict[frozenset[str], Any] = {}


def _advance_statement(columns: frozenset[str]) -> Any:
    """The UPDATE for decisions that change ``columns`` (compiled once per set of columns,
    run for every row of the batch with that set, as the outbox's ``settle`` is): a row
    changes only while ``holder`` leases it at the visit run. Applied rows are marked
    ``lease_holder = :marker`` so they can be told apart afterwards."""
    statement = _STATEMENTS.get(columns)
    if statement is None:
        table = cast(Table, JourneyEnrolment.__table__)
        c = table.c
        values: dict[str, Any] = {
            name: bindparam(f"v_{name}", type_=c[name].type) for name in sorted(columns)
        }
        values.update(
            lease_holder=bindparam("marker"),
            lease_until=None,
            updated_at=bindparam("now", type_=UTCDateTime()),
        )
        statement = _STATEMENTS[columns] = (
            update(table)
            .where(
                c.id == bindparam("e_id"),
                c.lease_holder == bindparam("holder"),
                c.visit == bindparam("e_visit"),
                or_(bindparam("unless_matched") == 0, c.matched_at.is_(None)),
            )
            .values(**values)
        )
    return statement


def record(
    session: Session, *, holder: str, decisions: Sequence[Decision], now: datetime
) -> list[Decision]:
    """Write ``decisions`` in the caller's transaction; returns those that applied.

    Each enrolment moves on only while the lease is ours and its visit is the one run
    (a worker that lost its lease writes nothing); its ``journey_steps`` row goes in the
    same transaction, so a step is recorded exactly when its enrolment moved past it.
    """
    if not decisions:
        return []
    marker = f"{holder}#recording"
    chains: dict[int, list[Decision]] = {}
    for decision in decisions:  # in execution order: a chain's steps follow each other
        chains.setdefault(decision.claimed.id, []).append(decision)
    shapes: dict[frozenset[str], list[dict[str, Any]]] = {}
    for chain in chains.values():
        first = chain[0]
        changed: dict[str, Any] = {}
        for decision in chain:
            changed.update(_values(decision, now))
        for name in ("lease_holder", "lease_until", "updated_at"):
            changed.pop(name, None)
        row: dict[str, Any] = {
            "e_id": first.claimed.id,
            "e_visit": first.claimed.first_visit,
            "holder": holder,
            "marker": marker,
            "now": now,
            "unless_matched": 1 if first.unless_matched else 0,
        }
        row.update({f"v_{name}": value for name, value in changed.items()})
        shapes.setdefault(frozenset(changed), []).append(row)
    connection = session.connection()
    done = sum(
        int(connection.execute(_advance_statement(columns), rows).rowcount)
        for columns, rows in shapes.items()
    )
    ids = list(chains)
    if done != len(chains):  # some leases were lost: which rows did move on?
        moved = set(
            session.scalars(
                select(JourneyEnrolment.id).where(
                    JourneyEnrolment.id.in_(ids), JourneyEnrolment.lease_holder == marker
                )
            )
        )
        applied = [d for d in decisions if d.claimed.id in moved]
    else:
        applied = list(decisions)
    session.execute(
        update(JourneyEnrolment)
        .where(JourneyEnrolment.id.in_(ids), JourneyEnrolment.lease_holder == marker)
        .values(lease_holder=None)
        .execution_options(synchronize_session=False)
    )
    for decision in applied:
        if decision.in_record is not None:
            decision.in_record(session, decision)
    rows = [
        {
            "enrolment_id": d.claimed.id,
            "journey_id": d.claimed.journey_id,
            "visit": d.claimed.visit,
            "step": d.claimed.step,
            "kind": d.kind,
            "outcome": d.outcome,
            "detail": {k: v for k, v in d.detail.items() if k != "kind"},
            "outbox_id": d.outbox_id,
            "executed_at": now,
        }
        for d in applied
        if d.outcome is not None
    ]
    if rows:
        session.execute(cast(Table, JourneyStep.__table__).insert(), rows)
    return applied


# --- reading the queue ---------------------------------------------------------------


def next_due_at(session: Session) -> datetime | None:
    """When the earliest open enrolment of a live journey becomes due (None: none waits).

    A leased one counts from its lease's expiry: that is when another worker may take it.
    """
    e = JourneyEnrolment
    at = case((e.lease_until > e.due_at, e.lease_until), else_=e.due_at)
    live = select(Journey.id).where(Journey.status == JourneyStatus.LIVE)
    return session.scalar(
        select(type_coerce(func.min(at), UTCDateTime())).where(
            JourneyEnrolment.state.in_(OPEN_ENROLMENT_STATES),
            JourneyEnrolment.due_at.is_not(None),
            JourneyEnrolment.journey_id.in_(live),
        )
    )


def backlog(session: Session, now: datetime) -> int:
    """Enrolments of live journeys due now (leased or not): the engine's backlog."""
    live = select(Journey.id).where(Journey.status == JourneyStatus.LIVE)
    return int(
        session.scalar(
            select(func.count()).where(
                JourneyEnrolment.state.in_(OPEN_ENROLMENT_STATES),
                JourneyEnrolment.due_at <= now,
                JourneyEnrolment.journey_id.in_(live),
            )
        )
        or 0
    )
