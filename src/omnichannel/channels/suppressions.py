"""The suppression list: addresses a channel must not send to, whoever they belong to.

A hard bounce, a spam complaint, an unregistered device token or an operator's block
adds one; the send path checks it before a message is queued and the dispatcher again
right before the provider is called. Keyed by (channel, address), not by profile: a dead
mailbox stays dead whichever profile it is later stitched into. Every change is audited
(by the suppression's id: the address goes into the sealed details, not the target).

The address is sealed at rest and the list is keyed by its blind index (``address_key``,
``opstore/sealed.py``). A row written before sealing holds the clear address as its key,
so lookups match either; adding that address again seals it.

Example::

    with store.session() as session:
        add_suppression(session, channel="email", address="gone@example.com",
                        reason="hard_bounce", source="smtp", actor="dispatcher")
        is_suppressed(session, channel="email", address="Gone@Example.com")  # -> the row
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from omnichannel.channels import registry
from omnichannel.errors import NotFoundError, ValidationError
from omnichannel.opstore.audit import record
from omnichannel.opstore.models import Suppression, utcnow
from omnichannel.opstore.sealed import SUPPRESSION_ADDRESS, blind

REASONS = ("hard_bounce", "complaint", "invalid_address", "unregistered", "manual", "unsubscribed")
_REASON_MAX = 64


def normalise_address(channel: str, address: str) -> str:
    """The form addresses are compared in: email case-insensitively, others as given."""
    value = address.strip()
    return value.lower() if channel == "email" else value


def _keys(session: Session, value: str) -> list[str]:
    """What a normalised address may be keyed by: its blind index, and the clear value
    (a row written before sealing, or by a store without a keyring)."""
    key = blind(session, SUPPRESSION_ADDRESS, value)
    return [value] if key is None else [key, value]


def _reason(reason: str) -> str:
    value = reason.strip().lower()
    if not value or len(value) > _REASON_MAX or not value.replace("_", "").isalnum():
        raise ValidationError(
            "reason", reason, f"a word of letters, digits or '_' such as {', '.join(REASONS)}"
        )
    return value


def add_suppression(
    session: Session,
    *,
    channel: str,
    address: str,
    reason: str,
    actor: str,
    source: str = "",
    detail: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> Suppression:
    """Suppress ``address`` on ``channel`` (replacing an earlier entry's reason and expiry)."""
    channel = registry.known(channel)
    value = normalise_address(channel, address)
    if not value:
        raise ValidationError("address", address, "a non-empty address")
    keys = _keys(session, value)
    if len(keys) == 2:  # seal a row written before sealing, so the upsert below finds it
        session.execute(
            update(Suppression)
            .where(Suppression.channel == channel, Suppression.address_key == value)
            .values(address=value, address_key=keys[0])
        )
    values = {
        "channel": channel,
        "address": value,
        "address_key": keys[0],
        "reason": _reason(reason),
        "source": source,
        "detail": detail or {},
        "created_at": utcnow(),
        "expires_at": expires_at,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Suppression).values(**values)
    # One statement, so two bounces for one address arriving together end as one row.
    statement = statement.on_conflict_do_update(
        index_elements=["channel", "address_key"],
        set_={k: statement.excluded[k] for k in ("reason", "source", "detail", "expires_at")},
    )
    session.execute(statement)
    row = session.scalars(
        select(Suppression)
        .where(Suppression.channel == channel, Suppression.address_key == keys[0])
        .execution_options(populate_existing=True)
    ).one()
    record(
        session,
        actor=actor,
        action="suppression.add",
        object_type="suppression",
        object_id=row.id,
        details={"channel": channel, "address": value, "reason": row.reason, "source": source},
    )
    return row


def remove_suppression(session: Session, *, channel: str, address: str, actor: str) -> None:
    """Lift a suppression; NotFoundError when there is none."""
    channel = registry.known(channel)
    value = normalise_address(channel, address)
    ids = session.scalars(
        delete(Suppression)
        .where(Suppression.channel == channel, Suppression.address_key.in_(_keys(session, value)))
        .returning(Suppression.id)
    ).all()
    if not ids:
        raise NotFoundError(f"{value} is not suppressed on {channel}")
    for removed in ids:
        record(
            session,
            actor=actor,
            action="suppression.remove",
            object_type="suppression",
            object_id=removed,
            details={"channel": channel, "address": value},
        )


def _active(now: datetime) -> Any:
    return or_(Suppression.expires_at.is_(None), Suppression.expires_at > now)


def is_suppressed(
    session: Session, *, channel: str, address: str, now: datetime | None = None
) -> Suppression | None:
    """The active suppression of ``address`` on ``channel``, or None."""
    keys = _keys(session, normalise_address(channel, address))
    query = select(Suppression).where(
        Suppression.channel == channel,
        Suppression.address_key.in_(keys),
        _active(now or utcnow()),
    )
    return session.scalars(query.limit(1)).first()


def suppressed_among(
    session: Session, *, channel: str, addresses: Iterable[str], now: datetime | None = None
) -> dict[str, Suppression]:
    """Which of ``addresses`` are suppressed on ``channel`` (one query per 500)."""
    wanted = {normalise_address(channel, a): a for a in addresses}
    found: dict[str, Suppression] = {}
    keys = [key for value in wanted for key in _keys(session, value)]
    for start in range(0, len(keys), 500):
        rows = session.scalars(
            select(Suppression).where(
                Suppression.channel == channel,
                Suppression.address_key.in_(keys[start : start + 500]),
                _active(now or utcnow()),
            )
        )
        for row in rows:  # the address is read opened: the form it was asked in
            found[wanted[row.address]] = row
    return found


def list_suppressions(
    session: Session, *, channel: str | None = None, limit: int = 100, offset: int = 0
) -> list[Suppression]:
    """Suppressions, newest first, optionally of one channel."""
    query = select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id.desc())
    if channel is not None:
        query = query.where(Suppression.channel == registry.known(channel))
    return list(session.scalars(query.limit(limit).offset(offset)))


def public(row: Suppression) -> dict[str, Any]:
    """A suppression as JSON-ready data."""
    return {
        "channel": row.channel,
        "address": row.address,
        "reason": row.reason,
        "source": row.source,
        "detail": row.detail,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }
