"""Large sends: a send to a segment of more than ``OMNI_LARGE_SEND_THRESHOLD`` people waits
for a second person's approval, and nothing is queued until then.

``platform.messages.send_segment`` asks ``LargeSends.hold`` first: above the threshold
it stores the request (``large_sends``, status ``pending_approval``) and returns it
instead of sending. ``approve`` (someone other than its author, whose role has
``messages:approve`` once users exist) sends it through the same send path, each
person's message keyed by the send (or its campaign), so an approval repeated after a
crash reaches nobody twice; ``reject`` ends it unsent. Every step is audited.

Example::

    held = platform.messages.send_segment("everyone", channel="email", template="sale",
                                          campaign="sale-12", actor="mia@shop.example")
    held["status"]                          # 'pending_approval', held["send_id"] == 3
    platform.messages.approve_send(3, actor="li@shop.example")   # now it sends
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from omnichannel.access.audit import record
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore.models import LargeSend, User, utcnow

if TYPE_CHECKING:
    from omnichannel.platform import Platform

PENDING = "pending_approval"
SENDING = "sending"
SENT = "sent"
REJECTED = "rejected"
STATUSES = (PENDING, SENDING, SENT, REJECTED)


def public_send(row: LargeSend) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "segment": row.segment,
        "channel": row.channel,
        "template": row.template,
        "content": row.content,
        "campaign": row.campaign,
        "kind": row.kind,
        "audience": row.audience,
        "threshold": row.threshold,
        "requested_by": row.requested_by,
        "requested_at": row.requested_at.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "note": row.note,
        "result": row.result,
    }


class LargeSends:
    """The ``large_sends`` table of one installation: hold, list, approve, reject."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    @property
    def threshold(self) -> int:
        return int(self._platform.settings.large_send_threshold)

    def hold(self, values: dict[str, Any], audience: int, *, actor: str) -> dict[str, Any]:
        """Store a send of ``audience`` people for approval; its public row."""
        with self._platform.opstore.session() as session:
            row = LargeSend(
                status=PENDING,
                segment=values["segment"],
                channel=values["channel"],
                template=values.get("template"),
                content=values.get("content"),
                campaign=values.get("campaign"),
                kind=values.get("kind"),
                audience=audience,
                threshold=self.threshold,
                requested_by=actor,
                requested_at=utcnow(),
                note="",
            )
            session.add(row)
            session.flush()
            after = public_send(row)
            record(session, actor, "send.request", f"send:{row.id}", None, after)
            return after

    def list(self, *, status: str | None = None, limit: int = 100) -> builtins.list[dict[str, Any]]:
        """Large sends, newest first (``status``: one of pending_approval, sending, sent,
        rejected)."""
        query = select(LargeSend).order_by(LargeSend.id.desc()).limit(max(1, min(limit, 1000)))
        if status is not None:
            if status not in STATUSES:
                raise ValidationError("status", status, f"one of {', '.join(STATUSES)}")
            query = query.where(LargeSend.status == status)
        with self._platform.opstore.session() as session:
            return [public_send(r) for r in session.scalars(query)]

    def get(self, send_id: int) -> dict[str, Any]:
        with self._platform.opstore.session() as session:
            return public_send(_row(session, send_id))

    def approve(self, send_id: int, *, actor: str, note: str = "") -> dict[str, Any]:
        """Approve and send now: each current member of the segment gets one message.

        A send left ``sending`` (its process stopped mid-way) is sent again by its
        approver repeating the approval: the messages already queued are recognised by
        their keys, so the rest go and nobody gets two."""
        self._platform.access.check_actor(actor, "messages:approve")
        with self._platform.opstore.session() as session:
            row = _row(session, send_id, lock=True)
            resuming = row.status == SENDING and row.decided_by == actor
            if row.status != PENDING and not resuming:
                raise ConflictError(
                    f"large send {send_id} is {row.status} (by {row.decided_by}): "
                    "only a send pending approval can be approved"
                )
            before = public_send(row)
            if resuming:
                action = "send.resume"
            else:
                _check_approver(session, actor, row)
                row.status, row.decided_by, row.decided_at = SENDING, actor, utcnow()
                row.note, action = note, "send.approve"
            values = public_send(row)
            record(session, actor, action, f"send:{row.id}", before, values)
        result = self._platform.messages.send_segment(
            values["segment"],
            channel=values["channel"],
            template=values["template"],
            content=values["content"],
            campaign=values["campaign"],
            kind=values["kind"],
            actor=actor,
            approved_send=send_id,
        )
        with self._platform.opstore.session() as session:
            row = _row(session, send_id, lock=True)
            row.status, row.result = SENT, result
            return public_send(row)

    def reject(self, send_id: int, *, actor: str, note: str = "") -> dict[str, Any]:
        """End a pending send unsent (an approver's, or its author withdrawing it)."""
        with self._platform.opstore.session() as session:
            row = _row(session, send_id, lock=True)
            if row.status != PENDING:
                raise ConflictError(
                    f"large send {send_id} is {row.status}: only a pending send can be rejected"
                )
            if actor != row.requested_by:
                self._platform.access.check_actor(actor, "messages:approve")
            before = public_send(row)
            row.status, row.decided_by, row.decided_at, row.note = REJECTED, actor, utcnow(), note
            after = public_send(row)
            record(session, actor, "send.reject", f"send:{row.id}", before, after)
            return after


def _row(session: Any, send_id: int, *, lock: bool = False) -> LargeSend:
    query = select(LargeSend).where(LargeSend.id == send_id)
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise NotFoundError(f"no large send with id {send_id} (see omni messages sends)")
    return row


def _check_approver(session: Any, actor: str, row: LargeSend) -> None:
    """Once users exist: an active user other than the send's author (two people)."""
    users = session.scalar(select(func.count()).select_from(User)) or 0
    if not users:
        return  # before users and roles exist, the approval is recorded, not checked
    known = session.scalars(select(User.id).where(User.email == actor, User.active.is_(True)))
    if known.first() is None:
        raise ValidationError("actor", actor, "the email of an active user with messages:approve")
    if actor == row.requested_by:
        raise ValidationError(
            "actor",
            actor,
            f"someone other than {row.requested_by}, who asked for this send (a send to more "
            f"than {row.threshold:,} people goes out on a second person's approval)",
        )
