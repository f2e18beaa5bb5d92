"""The outbox as each channel's durable queue: enqueue once, claim with a lease, settle.

A message is claimable when it is ``queued`` and due (``next_attempt_at`` passed or
unset), ``held`` and its hold is over (quiet hours ended), or ``sending`` with its lease
expired (the worker that claimed it died). Claiming marks it ``sending`` with a lease
(holder and expiry) and counts the attempt, in one statement; on PostgreSQL the rows are
picked ``FOR UPDATE SKIP LOCKED``, so workers in several processes never wait for or
take each other's rows; SQLite has one writer at a time, which serialises claims.

Settling (sent, retry, failed, dropped) only touches a row still leased by the caller:
a worker that lost its lease (it hung past the expiry and another took over) cannot
overwrite the newer attempt's outcome.

Example::

    with store.session() as s:
        claimed = claim(s, channel="webhook", holder="host:123:ab", limit=50,
                        lease=timedelta(minutes=1))
    ...
    with store.session() as s:
        settle(s, [Settlement(claimed[0].id, "host:123:ab", OutboxStatus.SENT, ...)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from omnichannel.opstore.models import OutboxMessage, OutboxStatus, UTCDateTime, utcnow

_WAITING = (OutboxStatus.QUEUED, OutboxStatus.HELD, OutboxStatus.SENDING)


def enqueue(session: Session, values: dict[str, Any]) -> tuple[OutboxMessage, bool]:
    """Insert a message unless its ``idempotency_key`` exists; (the row, whether it is new).

    One INSERT ... ON CONFLICT DO NOTHING, so two requests racing with the same key end
    with one message and neither fails.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    row = {"created_at": now, "updated_at": now, **values}
    statement = (
        insert(OutboxMessage)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.id)
    )
    # RETURNING says whether a row went in (rowcount is not reliable for ON CONFLICT).
    created = session.execute(statement).scalar_one_or_none() is not None
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == values["idempotency_key"])
    ).one()
    return message, created


def existing(session: Session, keys: Sequence[str]) -> dict[str, OutboxMessage]:
    """Messages already enqueued under any of ``keys``."""
    found: dict[str, OutboxMessage] = {}
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key.in_(chunk))
        )
        found.update({row.idempotency_key: row for row in rows})
    return found


def _claimable(channel: str, now: datetime) -> Any:
    return and_(
        OutboxMessage.channel == channel,
        or_(
            and_(
                OutboxMessage.status == OutboxStatus.QUEUED,
                or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            ),
            and_(OutboxMessage.status == OutboxStatus.HELD, OutboxMessage.next_attempt_at <= now),
            and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
        ),
    )


def claim(
    session: Session,
    *,
    channel: str,
    holder: str,
    limit: int,
    lease: timedelta,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Lease up to ``limit`` due messages of ``channel`` to ``holder``, oldest due first."""
    now = now or utcnow()
    pick = (
        select(OutboxMessage.id)
        .where(_claimable(channel, now))
        .order_by(
            func.coalesce(OutboxMessage.next_attempt_at, OutboxMessage.created_at), OutboxMessage.id
        )
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(session.scalars(pick))
    if not ids:
        return []
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _claimable(channel, now))
        .values(
            status=OutboxStatus.SENDING,
            lease_holder=holder,
            lease_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_holder == holder)
        .order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


@dataclass(frozen=True)
class Settlement:
    """What became of one claimed message."""

    outbox_id: int
    holder: str
    status: OutboxStatus  # SENT, QUEUED (retry later), FAILED or DROPPED
    reason: str | None = None
    detail: str | None = None
    provider_message_id: str | None = None
    provider_response: str | None = None
    next_attempt_at: datetime | None = None
    # A retry that must not count as an attempt (the channel's breaker was open).
    uncount_attempt: bool = False


def settle(
    session: Session, settlements: Sequence[Settlement], *, now: datetime | None = None
) -> int:
    """Apply outcomes to messages still leased by their holders; returns how many applied."""
    now = now or utcnow()
    applied = 0
    for s in settlements:
        values: dict[str, Any] = {
            "status": s.status,
            "lease_holder": None,
            "lease_until": None,
            "updated_at": now,
            "next_attempt_at": s.next_attempt_at,
        }
        if s.status == OutboxStatus.SENT:
            values.update(sent_at=now, reason=None, reason_detail=None)
        else:
            values.update(reason=s.reason, reason_detail=s.detail)
        if s.provider_message_id is not None:
            values["provider_message_id"] = s.provider_message_id
        if s.provider_response is not None:
            values["provider_response"] = s.provider_response
        if s.uncount_attempt:
            values["attempts"] = OutboxMessage.attempts - 1
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == s.outbox_id,
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.lease_holder == s.holder,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        applied += result.rowcount  # type: ignore[attr-defined]
    return applied


def release_expired(session: Session, *, now: datetime | None = None) -> int:
    """Put messages whose lease expired back in the queue (claim also takes them)."""
    now = now or utcnow()
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now)
        .values(status=OutboxStatus.QUEUED, lease_holder=None, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def depth(session: Session) -> dict[str, dict[str, int]]:
    """Messages per channel and status, for those still waiting (queued, held, sending)."""
    rows = session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_(_WAITING))
        .group_by(OutboxMessage.channel, OutboxMessage.status)
    )
    found: dict[str, dict[str, int]] = {}
    for channel, status, count in rows:
        found.setdefault(channel, {})[getattr(status, "value", status)] = int(count)
    return found


def next_due(session: Session, channel: str) -> datetime | None:
    """When the earliest waiting message of ``channel`` becomes due (None: nothing waits)."""
    earliest = func.min(func.coalesce(OutboxMessage.next_attempt_at, OutboxMessage.created_at))
    return session.scalar(
        # type_coerce: SQLite hands aggregates back as text unless told the column's type.
        select(type_coerce(earliest, UTCDateTime())).where(
            OutboxMessage.channel == channel,
            OutboxMessage.status.in_((OutboxStatus.QUEUED, OutboxStatus.HELD)),
        )
    )
