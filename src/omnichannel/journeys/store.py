"""Journeys in the operational store: versions, lifecycle and who did what.

A journey row holds its lifecycle; its documents are ``journey_versions``, one row per
save, never changed. Three version numbers say which is which: ``version`` (the newest
saved), ``approved_version`` and ``live_version`` (what new entries follow). Editing a
live journey adds a version and changes nothing else: people in flight stay on the
version they entered, and new entries keep following ``live_version`` until the new
version is approved and started.

Lifecycle (``TRANSITIONS`` is the table of it)::

    draft --approve--> approved --start--> live <--pause/resume--> paused
      any status but archived --archive--> archived (open enrolments exited)

A live or paused journey with a newer saved version is approved again and started again
(``start`` switches ``live_version``). Every change is one transaction with its audit
entry (``opstore.audit``), so the log is the history of who approved and started what.

Example::

    store = JourneyStore(platform.opstore)
    store.create(parse_journey(text), actor="ana@example.com")       # version 1, draft
    store.approve("welcome", actor="li@example.com")
    store.start("welcome", actor="li@example.com")                    # live on version 1
"""

from __future__ import annotations

import builtins
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore import OpStore, record
from omnichannel.opstore.models import (
    OPEN_ENROLMENT_STATES,
    EnrolmentState,
    Journey,
    JourneyEnrolment,
    JourneyStatus,
    JourneyStep,
    JourneyVersion,
    OutboxMessage,
    User,
    utcnow,
)
from omnichannel.segments.store import NAME, NAME_ACCEPTED

if TYPE_CHECKING:
    from omnichannel.journeys.definition import JourneyDefinition

ARCHIVED_REASON = "archived"

# Each journey row's lifecycle as ``_row`` read it: the audit entry's "before".
_BEFORE: weakref.WeakKeyDictionary[Journey, dict[str, Any]] = weakref.WeakKeyDictionary()


def lifecycle(row: Journey) -> dict[str, Any]:
    """What the audit log keeps of a journey before and after a change."""
    return {
        "status": JourneyStatus(row.status).value,
        "version": row.version,
        "approved_version": row.approved_version,
        "approved_by": row.approved_by,
        "live_version": row.live_version,
    }


# action -> the statuses it may start from. Wrong ones are refused naming both.
TRANSITIONS: dict[str, tuple[JourneyStatus, ...]] = {
    "approve": (JourneyStatus.DRAFT, JourneyStatus.LIVE, JourneyStatus.PAUSED),
    "start": (JourneyStatus.APPROVED, JourneyStatus.LIVE, JourneyStatus.PAUSED),
    "pause": (JourneyStatus.LIVE,),
    "resume": (JourneyStatus.PAUSED,),
    "archive": (
        JourneyStatus.DRAFT,
        JourneyStatus.APPROVED,
        JourneyStatus.LIVE,
        JourneyStatus.PAUSED,
    ),
}


def check_name(name: object) -> str:
    """``name`` if it is a valid journey name, else a ValidationError naming it."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValidationError("journey name", name, NAME_ACCEPTED.replace("vip-buyers", "welcome"))
    return name


def allowed_actions(status: JourneyStatus) -> list[str]:
    """What can be done to a journey in ``status`` (for error messages and ``show``)."""
    return [action for action, starts in TRANSITIONS.items() if status in starts]


@dataclass(frozen=True)
class StoredVersion:
    version: int
    document: dict[str, Any]
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class StoredJourney:
    """A journey's row with its newest document (and the live one, when that differs)."""

    id: int
    name: str
    description: str
    status: JourneyStatus
    version: int
    approved_version: int | None
    live_version: int | None
    created_by: str
    approved_by: str | None
    approved_at: datetime | None
    started_at: datetime | None
    created_at: datetime
    updated_at: datetime
    latest: StoredVersion

    @property
    def definition(self) -> JourneyDefinition:
        from omnichannel.journeys.definition import parse_journey

        return parse_journey(self.latest.document)


def _stored(row: Journey, latest: JourneyVersion) -> StoredJourney:
    return StoredJourney(
        id=int(row.id),
        name=row.name,
        description=row.description or "",
        status=JourneyStatus(row.status),
        version=int(row.version),
        approved_version=row.approved_version,
        live_version=row.live_version,
        created_by=row.created_by,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        started_at=row.started_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        latest=_version(latest),
    )


def _version(row: JourneyVersion) -> StoredVersion:
    return StoredVersion(
        version=int(row.version),
        document=dict(row.definition),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def not_found(name: str) -> NotFoundError:
    return NotFoundError(f"no journey named {name!r} (see `omni journeys list`)")


class JourneyStore:
    """Create, save, move through the lifecycle and read journeys (``journeys`` tables)."""

    def __init__(self, opstore: OpStore) -> None:
        self.opstore = opstore

    # --- reading -------------------------------------------------------------------

    def get(self, name: str) -> StoredJourney | None:
        with self.opstore.session() as session:
            row = session.scalars(select(Journey).where(Journey.name == check_name(name))).first()
            return None if row is None else _stored(row, self._version_row(session, row))

    def require(self, name: str) -> StoredJourney:
        found = self.get(name)
        if found is None:
            raise not_found(name)
        return found

    def list(self) -> builtins.list[StoredJourney]:
        """Every journey, by name, with its newest document."""
        with self.opstore.session() as session:
            rows = session.scalars(select(Journey).order_by(Journey.name)).all()
            newest = {
                (v.journey_id, v.version): v
                for v in session.scalars(
                    select(JourneyVersion).join(
                        Journey,
                        (Journey.id == JourneyVersion.journey_id)
                        & (Journey.version == JourneyVersion.version),
                    )
                )
            }
            return [_stored(row, newest[(row.id, row.version)]) for row in rows]

    def versions(self, name: str) -> builtins.list[StoredVersion]:
        """Every saved version, oldest first."""
        with self.opstore.session() as session:
            row = self._row(session, name)
            found = session.scalars(
                select(JourneyVersion)
                .where(JourneyVersion.journey_id == row.id)
                .order_by(JourneyVersion.version)
            ).all()
            return [_version(v) for v in found]

    def version(self, name: str, version: int) -> StoredVersion:
        with self.opstore.session() as session:
            row = self._row(session, name)
            return _version(self._version_row(session, row, version))

    def enrolment_counts(self, journey_id: int) -> dict[str, int]:
        """Enrolments by state (every state present, zero when none)."""
        with self.opstore.session() as session:
            rows = session.execute(
                select(JourneyEnrolment.state, func.count())
                .where(JourneyEnrolment.journey_id == journey_id)
                .group_by(JourneyEnrolment.state)
            ).all()
        counts = {state.value: 0 for state in EnrolmentState}
        counts.update({EnrolmentState(state).value: int(n) for state, n in rows})
        return counts

    # --- saving ----------------------------------------------------------------------

    def create(self, definition: JourneyDefinition, *, actor: str) -> StoredJourney:
        """Save a new journey (version 1, draft); ConflictError if the name is taken."""
        name = check_name(definition.name)
        taken = ConflictError(f"journey {name!r} exists already; save a new version of it instead")
        try:
            with self.opstore.session() as session:
                if session.scalars(select(Journey.id).where(Journey.name == name)).first():
                    raise taken
                row = Journey(
                    name=name,
                    description=definition.description,
                    status=JourneyStatus.DRAFT,
                    version=1,
                    created_by=actor,
                )
                session.add(row)
                session.flush()
                latest = JourneyVersion(
                    journey_id=row.id, version=1, definition=definition.document(), created_by=actor
                )
                session.add(latest)
                session.flush()
                self._audit(session, actor, "create", row, {"version": 1})
                return _stored(row, latest)
        except IntegrityError:
            raise taken from None  # another writer created it between our check and insert

    def save(self, name: str, definition: JourneyDefinition, *, actor: str) -> StoredJourney:
        """Add a version. A draft or approved journey becomes a draft (its approval was of
        an older version); a live or paused one goes on running its live version."""
        if definition.name != name:
            raise ValidationError(
                "name",
                definition.name,
                f"the journey's own name {name!r} (renaming is not supported)",
            )
        with self.opstore.session() as session:
            row = self._row(session, name, lock=True)
            if row.status == JourneyStatus.ARCHIVED:
                raise ConflictError(
                    f"journey {name!r} is archived: it cannot be changed (create a new journey)"
                )
            row.version = int(row.version) + 1
            row.description = definition.description
            if row.status == JourneyStatus.APPROVED:
                row.status = JourneyStatus.DRAFT
            row.updated_at = utcnow()
            latest = JourneyVersion(
                journey_id=row.id,
                version=row.version,
                definition=definition.document(),
                created_by=actor,
            )
            session.add(latest)
            session.flush()
            self._audit(session, actor, "save", row, {"version": int(row.version)})
            return _stored(row, latest)

    # --- the lifecycle ---------------------------------------------------------------

    def approve(self, name: str, *, actor: str) -> StoredJourney:
        """Approve the newest version. Once users exist, the approver must be an active
        user other than that version's author; until then anyone's approval is recorded."""
        with self.opstore.session() as session:
            row = self._row(session, name, lock=True)
            self._check_may(row, "approve")
            if row.approved_version == row.version:
                raise ConflictError(
                    f"version {row.version} of journey {name!r} is approved already "
                    f"(by {row.approved_by}); {self._next_hint(row)}"
                )
            latest = self._version_row(session, row)
            self._check_approver(session, actor, latest)
            row.approved_version = int(row.version)
            row.approved_by = actor
            row.approved_at = utcnow()
            if row.status == JourneyStatus.DRAFT:
                row.status = JourneyStatus.APPROVED
            row.updated_at = utcnow()
            self._audit(
                session,
                actor,
                "approve",
                row,
                {"version": int(row.version), "author": latest.created_by},
            )
            return _stored(row, latest)

    def start(self, name: str, *, actor: str) -> StoredJourney:
        """Go live on the approved version (or switch a live journey to a newer one)."""
        with self.opstore.session() as session:
            row = self._row(session, name, lock=True)
            self._check_may(row, "start")
            if row.approved_version is None or row.approved_version == row.live_version:
                pending = row.version != (row.approved_version or 0)
                if pending:
                    why = f"version {row.version} is not approved: approve it first"
                elif row.status == JourneyStatus.PAUSED:
                    why = f"it is paused on version {row.live_version}: resume it"
                else:
                    why = f"it is live on version {row.live_version} already"
                raise ConflictError(f"journey {name!r} cannot start: {why}")
            previous = row.live_version
            row.live_version = row.approved_version
            row.status = JourneyStatus.LIVE
            row.started_at = row.started_at or utcnow()
            row.updated_at = utcnow()
            self._audit(
                session,
                actor,
                "start",
                row,
                {"version": int(row.live_version), "previous": previous},
            )
            return _stored(row, self._version_row(session, row))

    def pause(self, name: str, *, actor: str) -> StoredJourney:
        """No new entries and no steps run until resumed (due steps wait)."""
        return self._move(name, "pause", JourneyStatus.PAUSED, actor)

    def resume(self, name: str, *, actor: str) -> StoredJourney:
        return self._move(name, "resume", JourneyStatus.LIVE, actor)

    def archive(
        self, name: str, *, actor: str, now: datetime | None = None
    ) -> tuple[StoredJourney, int]:
        """Archive, exiting every open enrolment (``exit_reason="archived"``); (journey, exited).

        The lease is cleared too: a worker half-way through a step of one of them then
        fails its conditional advance and leaves the enrolment as archived.
        """
        at = now or utcnow()
        with self.opstore.session() as session:
            row = self._row(session, name, lock=True)
            self._check_may(row, "archive")
            previous = row.status
            row.status = JourneyStatus.ARCHIVED
            row.updated_at = at
            result: Any = session.execute(
                update(JourneyEnrolment)
                .where(
                    JourneyEnrolment.journey_id == row.id,
                    JourneyEnrolment.state.in_(OPEN_ENROLMENT_STATES),
                )
                .values(
                    state=EnrolmentState.EXITED,
                    exit_reason=ARCHIVED_REASON,
                    open_key=None,
                    due_at=None,
                    lease_holder=None,
                    lease_until=None,
                    finished_at=at,
                    updated_at=at,
                )
                .execution_options(synchronize_session=False)
            )
            exited = int(result.rowcount or 0)
            self._audit(
                session, actor, "archive", row, {"previous": previous.value, "exited": int(exited)}
            )
            return _stored(row, self._version_row(session, row)), int(exited)

    def reset(
        self, names: builtins.list[str] | None = None, *, actor: str
    ) -> dict[str, dict[str, int]]:
        """Delete journeys (``names``, default every one) with all their state: versions,
        enrolments, executed steps and the outbox messages they made; per journey what
        went. One transaction, audited (``journey.reset``). What ``omni demo --reset``
        does to the demo's journeys, so a second run starts from nothing.

        The messages go with the enrolments: their idempotency keys name enrolment ids,
        which a store may hand out again once the rows are gone.
        """
        gone: dict[str, dict[str, int]] = {}
        with self.opstore.session() as session:
            query = select(Journey).order_by(Journey.id)
            if names is not None:
                query = query.where(Journey.name.in_([check_name(n) for n in names]))
            for row in session.scalars(query).all():
                counts = {
                    "messages": _delete(session, OutboxMessage, OutboxMessage.journey_id, row.id),
                    "steps": _delete(session, JourneyStep, JourneyStep.journey_id, row.id),
                    "enrolments": _delete(
                        session, JourneyEnrolment, JourneyEnrolment.journey_id, row.id
                    ),
                    "versions": _delete(session, JourneyVersion, JourneyVersion.journey_id, row.id),
                }
                self._audit(session, actor, "reset", row, counts)
                session.delete(row)
                gone[row.name] = counts
        return gone

    # --- helpers ---------------------------------------------------------------------

    def _move(self, name: str, action: str, to: JourneyStatus, actor: str) -> StoredJourney:
        with self.opstore.session() as session:
            row = self._row(session, name, lock=True)
            self._check_may(row, action)
            row.status = to
            row.updated_at = utcnow()
            self._audit(session, actor, action, row, {"version": row.live_version})
            return _stored(row, self._version_row(session, row))

    @staticmethod
    def _check_may(row: Journey, action: str) -> None:
        status = JourneyStatus(row.status)
        if status not in TRANSITIONS[action]:
            allowed = allowed_actions(status)
            also = f"; it can be: {', '.join(allowed)}" if allowed else " and can no longer change"
            starts = " or ".join(s.value for s in TRANSITIONS[action])
            raise ConflictError(
                f"journey {row.name!r} is {status.value}: {action} needs it {starts}{also}"
            )

    @staticmethod
    def _next_hint(row: Journey) -> str:
        if row.status == JourneyStatus.APPROVED:
            return "start it next"
        if row.live_version != row.approved_version:
            return "start it to switch to it"
        return "save a new version to approve"

    @staticmethod
    def _check_approver(session: Session, actor: str, latest: JourneyVersion) -> None:
        users = session.scalar(select(func.count()).select_from(User)) or 0
        if not users:
            return  # before users and roles exist, the approval is recorded, not checked
        known = session.scalars(
            select(User.id).where(User.email == actor, User.active.is_(True))
        ).first()
        if known is None:
            raise ValidationError("actor", actor, "the email of an active user (see the users)")
        if actor == latest.created_by:
            raise ValidationError(
                "actor",
                actor,
                f"someone other than {latest.created_by}, who saved version {latest.version} "
                "(a journey goes live on a second person's approval)",
            )

    @staticmethod
    def _row(session: Session, name: str, *, lock: bool = False) -> Journey:
        query = select(Journey).where(Journey.name == check_name(name))
        if lock:
            query = query.with_for_update()  # PostgreSQL: one lifecycle change at a time
        row = session.scalars(query).first()
        if row is None:
            raise not_found(name)
        _BEFORE[row] = lifecycle(row)
        return row

    @staticmethod
    def _version_row(session: Session, row: Journey, version: int | None = None) -> JourneyVersion:
        wanted = int(row.version) if version is None else version
        found = session.get(JourneyVersion, (row.id, wanted))
        if found is None:
            raise NotFoundError(f"journey {row.name!r} has no version {wanted} (1-{row.version})")
        return found

    @staticmethod
    def _audit(
        session: Session, actor: str, action: str, row: Journey, details: dict[str, Any]
    ) -> None:
        record(
            session,
            actor=actor,
            action=f"journey.{action}",
            object_type="journey",
            object_id=row.name,
            details={"status": JourneyStatus(row.status).value, **details},
            before=_BEFORE.pop(row, None),
            after=lifecycle(row),
        )


def _delete(session: Session, model: Any, column: Any, journey_id: int) -> int:
    result: Any = session.execute(
        delete(model).where(column == journey_id).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
