"""The in-app inbox: messages an app fetches for its signed-in user, marked read via the collector.

Sending writes one ``inbox_messages`` row (operational store) per outbox message, keyed
by the outbox id, so a send retried after a crash finds its row instead of adding a
second. The address is the user id the app knows the person by (the Segment ``userId``
its events carry); ``GET /v1/inbox`` (api/routes/inbox.py) lists that user's recent or
unread messages, authenticated as the collector is, by a source's write key.

Write keys ship inside apps, so they prove which app asks, not which user: anyone with
the key who guesses a user id could read that user's inbox. With ``inbox.identity_secret``
set, a request must also carry ``user_hash``, the hex HMAC-SHA256 of the user id under
that secret, which the app's backend computes at sign-in (the "identity verification"
scheme of in-app messaging products); without it, the inbox is as open as the collector.

The app marks a message read by sending a track event ``Inbox Message Read`` with
``properties.inbox_message_id`` (and its userId) to the collector. The ``inbox`` durable
consumer (``InboxReads``) sets ``read_at`` on the user's own message and records ``read``
in the delivery log, once: a replayed batch finds the message read already.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, SecretStr
from sqlalchemy import func, select, update

from omnichannel.channels.adapter import (
    AdapterContext,
    ChannelSettings,
    Delivery,
    Rejected,
    SendOutcome,
    Sent,
)
from omnichannel.channels.provider_consent import store_of
from omnichannel.consumers.runner import StartAt
from omnichannel.errors import ValidationError
from omnichannel.opstore.models import InboxMessage, utcnow
from omnichannel.opstore.sealed import INBOX_USER, blind, clear_equals

if TYPE_CHECKING:
    from omnichannel.channels.deliveries import DeliveryLog
    from omnichannel.opstore import OpStore
    from omnichannel.platform import Platform

log = logging.getLogger(__name__)

READ_EVENT = "Inbox Message Read"
CONSUMER_NAME = "inbox"
MAX_PAGE = 100
TITLE_MAX = 500


class InboxSettings(ChannelSettings):
    """The ``inbox`` section of channels.yaml."""

    # Writing a row is cheap: the limits are the database's, not a provider's.
    rate_per_second: float = Field(default=1000.0, gt=0)
    # A message disappears from the inbox this long after it was sent.
    keep_for: timedelta = Field(default=timedelta(days=90))
    # When set, GET /v1/inbox needs user_hash = hex HMAC-SHA256(identity_secret, userId).
    identity_secret: SecretStr | None = None


def user_hash(secret: str, user_id: str) -> str:
    """What an app's backend gives the app for ``user_id`` (see the module docstring)."""
    return hmac.new(secret.encode(), user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def check_user_hash(settings: InboxSettings, user_id: str, given: str | None) -> None:
    """Refuse a request whose ``user_hash`` is missing or wrong when a secret is set."""
    if settings.identity_secret is None:
        return
    expected = user_hash(settings.identity_secret.get_secret_value(), user_id)
    if not given or not hmac.compare_digest(expected, given):
        raise InboxRefused(
            "user_hash",
            "(missing)" if not given else given[:12] + "...",
            "hex HMAC-SHA256 of userId under inbox.identity_secret (computed by the app's backend)",
        )


class InboxRefused(ValidationError):
    """The inbox request does not prove it speaks for this user (answered 401)."""


def _write(store: OpStore, delivery: Delivery, keep_for: timedelta) -> int:
    with store.session() as session:
        found = session.scalars(
            select(InboxMessage.id).where(InboxMessage.outbox_id == delivery.outbox_id)
        ).first()
        if found is not None:
            return int(found)
        content = delivery.content
        now = utcnow()
        row = InboxMessage(
            outbox_id=delivery.outbox_id,
            profile_id=delivery.profile_id,
            user_id=delivery.address,
            title=str(content.get("title") or "")[:TITLE_MAX],
            body=str(content.get("body") or ""),
            data=dict(content.get("data") or {}),
            created_at=now,
            expires_at=now + keep_for,
        )
        session.add(row)
        session.flush()
        return int(row.id)


class InboxAdapter:
    channel: ClassVar[str] = "inbox"
    address_types: ClassVar[tuple[str, ...]] = ("user_id",)
    required_parts: ClassVar[tuple[str, ...]] = ("body",)
    optional_parts: ClassVar[tuple[str, ...]] = ("title", "data")

    def __init__(self, settings: InboxSettings, context: AdapterContext) -> None:
        self.settings = settings
        self.context = context
        store = store_of(context)
        if store is None:
            raise ValueError("the inbox channel needs the operational store (context.extra)")
        self.store = store

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, delivery: Delivery) -> SendOutcome:
        if not str(delivery.content.get("body") or "").strip():
            return Rejected("the message has no body (part 'body' is empty)", reason="empty")
        data = delivery.content.get("data") or {}
        if not isinstance(data, dict):
            return Rejected(f"part 'data' must be an object, got {type(data).__name__}")
        message_id = await asyncio.to_thread(_write, self.store, delivery, self.settings.keep_for)
        return Sent(provider_message_id=str(message_id), response=f"inbox message {message_id}")


# --- what the app reads ----------------------------------------------------------------


def _public(row: InboxMessage) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "title": row.title,
        "body": row.body,
        "data": row.data or {},
        "created_at": row.created_at.isoformat(),
        "read_at": row.read_at.isoformat() if row.read_at else None,
    }


def list_inbox(
    store: OpStore,
    user_id: str,
    *,
    unread_only: bool = False,
    limit: int = 20,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A user's messages, newest first, unexpired; with the count of unread ones."""
    if not user_id.strip():
        raise ValidationError("userId", user_id, "the user id the app signs its events with")
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", limit, f"a number from 1 to {MAX_PAGE}")
    at = now or datetime.now(UTC)
    with store.session() as session:
        # The user id is sealed: its blind index finds it, or the clear value a row
        # written before sealing holds (no key).
        key = blind(session, INBOX_USER, user_id)
        legacy = InboxMessage.user_key.is_(None) & clear_equals(InboxMessage.user_id, user_id)
        mine = legacy if key is None else (InboxMessage.user_key == key) | legacy
        live = mine & (InboxMessage.expires_at.is_(None) | (InboxMessage.expires_at > at))
        unread = session.scalar(
            select(func.count())
            .select_from(InboxMessage)
            .where(live, InboxMessage.read_at.is_(None))
        )
        query = select(InboxMessage).where(live)
        if unread_only:
            query = query.where(InboxMessage.read_at.is_(None))
        rows = session.scalars(
            query.order_by(InboxMessage.created_at.desc(), InboxMessage.id.desc()).limit(limit)
        ).all()
        return {
            "user_id": user_id,
            "unread": int(unread or 0),
            "messages": [_public(r) for r in rows],
        }


def delete_expired(store: OpStore, *, now: datetime | None = None) -> int:
    """Remove messages past their ``expires_at`` (the delivery log keeps their history)."""
    from sqlalchemy import delete

    at = now or datetime.now(UTC)
    with store.session() as session:
        result = session.execute(
            delete(InboxMessage).where(
                InboxMessage.expires_at.is_not(None), InboxMessage.expires_at <= at
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


# --- read receipts through the collector --------------------------------------------------


@dataclass(frozen=True)
class ReadReceipt:
    user_id: str
    message_id: int
    at: datetime


def read_receipts(batch: pa.Table) -> list[ReadReceipt]:
    """``Inbox Message Read`` events of a batch with a usable ``inbox_message_id``."""
    if batch.num_rows == 0 or "event" not in batch.column_names:
        return []
    mine = batch.filter(pc.equal(batch.column("event"), READ_EVENT))
    receipts = []
    for row in mine.select(["user_id", "properties", "timestamp", "received_at"]).to_pylist():
        try:
            props = json.loads(row["properties"] or "{}")
            message_id = int(str(props.get("inbox_message_id", "")).strip())
        except (ValueError, TypeError, AttributeError):
            continue  # not one of ours: the event is stored; there is nothing to mark
        if not row["user_id"]:
            continue
        at = row["timestamp"] or row["received_at"] or datetime.now(UTC)
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        receipts.append(ReadReceipt(str(row["user_id"]), message_id, at))
    return receipts


def mark_read(
    store: OpStore, receipts: Sequence[ReadReceipt]
) -> list[tuple[InboxMessage, datetime]]:
    """The users' own unread messages among ``receipts``, with when they were read
    (not yet marked: ``apply_read`` does it once the log has them)."""
    if not receipts:
        return []
    wanted = {(r.user_id, r.message_id): r.at for r in receipts}
    with store.session() as session:
        rows = session.scalars(
            select(InboxMessage).where(
                InboxMessage.id.in_({r.message_id for r in receipts}),
                InboxMessage.read_at.is_(None),
            )
        ).all()
        session.expunge_all()
    # Only the message's own user can mark it: a receipt for someone else's id is ignored.
    return [(row, wanted[(row.user_id, row.id)]) for row in rows if (row.user_id, row.id) in wanted]


def apply_read(store: OpStore, marked: Sequence[tuple[InboxMessage, datetime]]) -> None:
    with store.session() as session:
        for row, at in marked:
            session.execute(
                update(InboxMessage)
                .where(InboxMessage.id == row.id, InboxMessage.read_at.is_(None))
                .values(read_at=at)
            )


@dataclass
class InboxReads:
    """The durable consumer that turns ``Inbox Message Read`` events into read receipts."""

    store: OpStore
    log: DeliveryLog
    name: str = CONSUMER_NAME
    # Receipts for messages sent before the server started are in events stored since.
    start_at: StartAt = "end"

    @classmethod
    def of(cls, platform: Platform) -> InboxReads:
        return cls(platform.opstore, platform.messages.log)

    def handle(self, batch: pa.Table) -> None:
        from omnichannel.channels.deliveries import DeliveryEvent

        marked = mark_read(self.store, read_receipts(batch))
        if not marked:
            return
        outbox = _outbox_rows(self.store, [row.outbox_id for row, _ in marked if row.outbox_id])
        events = []
        for row, at in marked:
            message = outbox.get(row.outbox_id or -1)
            if message is not None:
                events.append(DeliveryEvent.of(message, "read", at=at, reason=None, detail=None))
            else:
                events.append(
                    DeliveryEvent(
                        outbox_id=row.outbox_id,
                        event="read",
                        channel="inbox",
                        profile_id=row.profile_id,
                        address=row.user_id,
                        at=at,
                    )
                )
        # The log first, then the mark: a crash between them replays the batch and may
        # log one read twice, but never marks a message read without logging it.
        self.log.record(events)
        self.log.flush()
        apply_read(self.store, marked)


def _outbox_rows(store: OpStore, ids: Sequence[int]) -> dict[int, Any]:
    from omnichannel.opstore.models import OutboxMessage

    if not ids:
        return {}
    with store.session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))).all()
        session.expunge_all()
    return {int(r.id): r for r in rows}
