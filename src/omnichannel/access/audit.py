"""The audit log of every change: who, what, when, and the object before and after.

One function records: ``record(session, actor, action, target, before, after)``, in the
transaction of the change itself (the entry commits with it or not at all). It is called
from the library layer (``platform.users``, ``platform.journeys``...), never from a face,
so a change made by the CLI, the API or a page is recorded once, the same way; the
actor is whoever the face authenticated (a user's email, an admin token, ``cli:<login>``).

Example::

    with store.session() as session:
        before = public(user)
        user.role = "viewer"
        record(session, "ana@shop.example", "user.role", f"user:{user.email}", before, public(user))
    entries(store, target="user:li@shop.example")   # newest first, JSON-ready
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnichannel.errors import ValidationError
from omnichannel.jsonable import jsonable
from omnichannel.opstore.audit import record as _record
from omnichannel.opstore.models import AuditEntry

if TYPE_CHECKING:
    from omnichannel.opstore import OpStore

MAX_LIMIT = 1000


def split_target(target: str) -> tuple[str, str | None]:
    """``"journey:cart"`` -> ("journey", "cart"); ``"users"`` -> ("users", None)."""
    kind, sep, ident = target.partition(":")
    if not kind:
        raise ValidationError("target", target, "TYPE:ID such as journey:cart or user:ana@x.com")
    return kind, (ident if sep else None)


def record(
    session: Session,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    *,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record one change (``before``/``after`` JSON-ready: None when absent)."""
    kind, ident = split_target(target)
    return _record(
        session,
        actor=actor,
        action=action,
        object_type=kind,
        object_id=ident,
        details=details,
        before=jsonable(before),
        after=jsonable(after),
    )


def public(entry: AuditEntry) -> dict[str, Any]:
    target = entry.object_type + (f":{entry.object_id}" if entry.object_id is not None else "")
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target": target,
        "before": entry.before,
        "after": entry.after,
        "details": entry.details,
    }


def entries(
    store: OpStore,
    *,
    target: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Audit entries, newest first, filtered by target (``journey:cart`` or ``journey``),
    actor, action (``journey.approve`` or a prefix such as ``journey.``) and time."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", limit, f"a number of entries from 1 to {MAX_LIMIT}")
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if target is not None:
        kind, ident = split_target(target)
        query = query.where(AuditEntry.object_type == kind)
        if ident is not None:
            query = query.where(AuditEntry.object_id == ident)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        if action.endswith("."):
            query = query.where(AuditEntry.action.startswith(action))
        else:
            query = query.where(AuditEntry.action == action)
    if since is not None:
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # a time without a zone is read as UTC
        query = query.where(AuditEntry.at >= since)
    with store.session() as session:
        return [public(e) for e in session.scalars(query)]
