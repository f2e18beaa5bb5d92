"""The audit log: who did what to which object, append-only.

Example::

    with store.session() as session:
        record(session, actor="ana@example.com", action="journey.approve",
               object_type="journey", object_id=7, details={"version": 3})
        latest = entries(session, object_type="journey", object_id=7)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from omnichannel.errors import OmniError
from omnichannel.opstore.models import AuditEntry, utcnow


class AuditLogError(OmniError):
    """Code tried to change or delete an audit entry."""


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Add one audit entry to the session's transaction (so it commits with the change);
    ``before`` and ``after`` are the object's JSON-ready state around it."""
    if not actor:
        raise ValueError("audit actor is empty; expected who acted, e.g. a user's email or 'cli'")
    if not action:
        raise ValueError("audit action is empty; expected e.g. 'journey.approve'")
    entry = AuditEntry(
        at=at or utcnow(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=dict(details or {}),
        before=before,
        after=after,
    )
    session.add(entry)
    # Flush now so ``id`` (the log's order) follows the order of calls, and the caller
    # can cite the entry.
    session.flush()
    return entry


def entries(
    session: Session,
    *,
    object_type: str | None = None,
    object_id: str | int | None = None,
    actor: str | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Audit entries in the order they were written, optionally filtered."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if object_type is not None:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == str(object_id))
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if after_id is not None:
        query = query.where(AuditEntry.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _context: Any, _instances: Any) -> None:
    # An audit log that code can quietly edit proves nothing; refuse it at the ORM level
    # for every session, whoever opened it.
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogError(
                f"audit entry id={obj.id} cannot be changed or deleted; the audit log "
                "is append-only (record a new entry instead)"
            )
