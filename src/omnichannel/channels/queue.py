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
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, type_coerce, update
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


def enqueue_many(
    session: Session, rows: Sequence[dict[str, Any]]
) -> list[tuple[OutboxMessage, bool]]:
    """``enqueue`` for a batch: one statement run for every row (SQLAlchemy batches the
    rows into multi-row INSERTs with RETURNING), then one read of the rows.

    Building one statement per message cost most of a segment send's time.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    table = cast(Table, OutboxMessage.__table__)
    defaults = {"created_at": now, "updated_at": now, "attempts": 0}
    names = sorted({*defaults, *(k for row in rows for k in row)})
    # Every row names the same columns, so the statement is compiled once.
    values = [{name: {**defaults, **row}.get(name) for name in names} for row in rows]
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.idempotency_key)
    )
    created = set(session.execute(statement, values).scalars())
    found = existing(session, [str(row["idempotency_key"]) for row in rows])
    return [(found[str(r["idempotency_key"])], r["idempotency_key"] in created) for r in rows]


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
    # The message's content from now on: a retry to the devices still to be reached.
    content: dict[str, Any] | None = None


def settle(
    session: Session, settlements: Sequence[Settlement], *, now: datetime | None = None
) -> int:
    """Apply outcomes to messages still leased by their holders; returns how many applied.

    One statement for the whole batch (executemany): a worker settles hundreds of
    outcomes a second, and an ORM update per message cost more than the sends.
    """
    if not settlements:
        return 0
    now = now or utcnow()
    table = cast(Table, OutboxMessage.__table__)
    c = table.c
    narrowed = [s for s in settlements if s.content is not None]
    if narrowed:  # rare (a retry of some devices), so its own statement
        session.connection().execute(
            update(table)
            .where(
                c.id == bindparam("s_id"),
                c.status == OutboxStatus.SENDING,
                c.lease_holder == bindparam("s_holder"),
            )
            .values(content=bindparam("s_content", type_=c.content.type)),
            [{"s_id": s.outbox_id, "s_holder": s.holder, "s_content": s.content} for s in narrowed],
        )
    statement = (
        update(table)
        .where(
            c.id == bindparam("s_id"),
            c.status == OutboxStatus.SENDING,
            c.lease_holder == bindparam("s_holder"),
        )
        .values(
            status=bindparam("s_status", type_=c.status.type),
            lease_holder=None,
            lease_until=None,
            updated_at=bindparam("s_now", type_=UTCDateTime()),
            next_attempt_at=bindparam("s_next", type_=UTCDateTime()),
            sent_at=func.coalesce(bindparam("s_sent", type_=UTCDateTime()), c.sent_at),
            reason=bindparam("s_reason"),
            reason_detail=bindparam("s_detail"),
            provider_message_id=func.coalesce(bindparam("s_pmid"), c.provider_message_id),
            provider_response=func.coalesce(bindparam("s_response"), c.provider_response),
            attempts=c.attempts - bindparam("s_uncount"),
        )
    )
    params = [
        {
            "s_id": s.outbox_id,
            "s_holder": s.holder,
            "s_status": s.status,
            "s_now": now,
            "s_next": s.next_attempt_at,
            "s_sent": now if s.status == OutboxStatus.SENT else None,
            "s_reason": None if s.status == OutboxStatus.SENT else s.reason,
            "s_detail": None if s.status == OutboxStatus.SENT else s.detail,
            "s_pmid": s.provider_message_id,
            "s_response": s.provider_response,
            "s_uncount": 1 if s.uncount_attempt else 0,
        }
        for s in settlements
    ]
    result = session.connection().execute(statement, params)
    return int(result.rowcount)


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
