"""The delivery log: every step of every message, appended to the warehouse's ``deliveries``.

The outbox (operational store) says what a message *is* now; ``deliveries`` says what
*happened* to it, one row per step, so funnels count exposure (sent, opened, clicked)
and a dead letter can be traced attempt by attempt. Rows are only ever appended.

Events: ``queued``, ``held`` (a rule that ends, with its reason), ``dropped`` (a rule
that says never), ``sent``, ``delivered``, ``retrying``, ``failed``, ``bounced``,
``complained``, ``opened``, ``clicked``, ``unsubscribed``, ``read``.

Senders record from many threads at thousands a second, so ``DeliveryLog`` buffers rows
and appends them in batches on the warehouse's one writer path (every half second, or
at once past ``batch_rows``); ``flush()`` writes now. The outbox is the durable record:
a crash loses at most the buffered log rows, never a message or its state.

Example::

    log = DeliveryLog(platform.warehouse)
    log.record([DeliveryEvent(outbox_id=7, event="opened", channel="email",
                              profile_id="p-1", campaign="spring")])
    log.flush()
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from omnichannel.errors import ValidationError

if TYPE_CHECKING:
    from omnichannel.opstore.models import OutboxMessage
    from omnichannel.warehouse.access import WarehouseAccess

log = logging.getLogger(__name__)

EVENTS = (
    "queued",
    "held",
    "dropped",
    "sent",
    "delivered",
    "retrying",
    "failed",
    "bounced",
    "complained",
    "opened",
    "clicked",
    "unsubscribed",
    "read",
)
# Events before the provider took the message: their time is the queue's, not a send's.
_BEFORE_SEND = frozenset({"queued", "held", "dropped", "retrying", "failed"})
TABLE = "deliveries"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeliveryEvent:
    """One step of one message. ``outbox_id`` ties it to the outbox row."""

    outbox_id: int | None
    event: str
    channel: str
    profile_id: str | None = None
    address: str | None = None
    campaign: str | None = None
    template: str | None = None
    template_version: int | None = None
    journey_id: int | str | None = None
    journey_step: str | None = None
    kind: str | None = None
    origin: str | None = None
    attempt: int | None = None
    # The rule that held or dropped it, or the failure's class; detail says more in words.
    reason: str | None = None
    detail: str | None = None
    provider_message_id: str | None = None
    at: datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValidationError("event", self.event, f"one of {', '.join(EVENTS)}")

    @classmethod
    def of(cls, message: OutboxMessage, event: str, **changes: Any) -> DeliveryEvent:
        """An event of ``message`` (its channel, profile, campaign, template... filled in)."""
        values: dict[str, Any] = {
            "outbox_id": message.id,
            "event": event,
            "channel": message.channel,
            "profile_id": message.profile_id,
            "address": message.address,
            "campaign": message.campaign,
            "template": message.template,
            "template_version": message.template_version,
            "journey_id": message.journey_id,
            "journey_step": message.journey_step,
            "kind": getattr(message.kind, "value", message.kind),
            "origin": message.origin,
            "attempt": message.attempts or None,
            "reason": message.reason,
            "detail": message.reason_detail,
            "provider_message_id": message.provider_message_id,
        }
        values.update(changes)
        return cls(**values)

    def row(self) -> dict[str, Any]:
        at = self.at.astimezone(UTC).replace(tzinfo=None)  # the warehouse keeps naive UTC
        return {
            "delivery_id": uuid.uuid4().hex,
            "outbox_id": self.outbox_id,
            "status": self.event,
            "at": at,
            "channel": self.channel,
            "profile_id": self.profile_id,
            "recipient": self.address,
            "campaign_id": self.campaign,
            "template": self.template,
            "template_version": self.template_version,
            "journey_id": None if self.journey_id is None else str(self.journey_id),
            "step_id": self.journey_step,
            "kind": self.kind,
            "origin": self.origin,
            "attempt": self.attempt,
            "reason": self.reason,
            "error": self.detail,
            "provider_message_id": self.provider_message_id,
            "queued_at": at if self.event in _BEFORE_SEND else None,
            "sent_at": None if self.event in _BEFORE_SEND else at,
        }


class DeliveryLog:
    """Buffered appends to ``deliveries`` on the warehouse's writer path (see the module)."""

    def __init__(
        self, access: WarehouseAccess, *, flush_seconds: float = 0.5, batch_rows: int = 2000
    ) -> None:
        self._access = access
        self._flush_seconds = flush_seconds
        self._batch_rows = batch_rows
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    def record(self, events: Iterable[DeliveryEvent]) -> None:
        """Buffer ``events``; they reach the warehouse within ``flush_seconds``."""
        rows = [event.row() for event in events]
        if not rows:
            return
        with self._lock:
            self._rows.extend(rows)
            pending = len(self._rows)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="omni-delivery-log", daemon=True
                )
                self._thread.start()
        if pending >= self._batch_rows:
            self._wake.set()

    def pending(self) -> int:
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Append what is buffered now; returns the rows written. Kept on failure."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                with self._access.writer() as wh:
                    wh.append(TABLE, pa.Table.from_pylist(rows))
            except Exception:
                with self._lock:
                    self._rows[:0] = rows  # keep them, in order, for the next round
                self.failures += 1
                raise
            return len(rows)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:
                log.warning(
                    "delivery log could not be written; retrying", extra={"error": str(exc)}
                )
                self._stop.wait(min(30.0, self._flush_seconds * 2 ** min(self.failures, 6)))

    def close(self) -> None:
        """Write what is buffered and stop the flusher."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.exception("delivery log rows could not be written at close")


def read_log(access: WarehouseAccess, outbox_id: int) -> list[dict[str, Any]]:
    """The log rows of one message, oldest first."""
    with access.reader() as wh:
        t = wh.table(TABLE)
        expr = t.filter(t.outbox_id == outbox_id).order_by(t.at)
        expr = expr.select("status", "at", "attempt", "reason", "error", "provider_message_id")
        return wh.query(expr).to_pylist()


LOG_COLUMNS = (
    "at",
    "outbox_id",
    "status",
    "channel",
    "profile_id",
    "recipient",
    "campaign_id",
    "template",
    "template_version",
    "journey_id",
    "step_id",
    "kind",
    "origin",
    "attempt",
    "reason",
    "error",
    "provider_message_id",
)
MAX_LOG_PAGE = 1000


def search_log(
    access: WarehouseAccess,
    *,
    channel: str | None = None,
    status: str | None = None,
    campaign: str | None = None,
    journey_id: str | None = None,
    profile_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Log rows, newest first, filtered (each filter an exact value); ``total`` matching."""
    if status is not None and status not in EVENTS:
        raise ValidationError("status", status, f"one of {', '.join(EVENTS)}")
    if not 1 <= limit <= MAX_LOG_PAGE:
        raise ValidationError("limit", limit, f"a number of rows from 1 to {MAX_LOG_PAGE}")
    if offset < 0:
        raise ValidationError("offset", offset, "0 or more rows to skip")
    with access.reader() as wh:
        t = wh.table(TABLE)
        filters = [
            getattr(t, column) == value
            for column, value in (
                ("channel", channel),
                ("status", status),
                ("campaign_id", campaign),
                ("journey_id", journey_id),
                ("profile_id", profile_id),
            )
            if value is not None
        ]
        expr = t.filter(*filters) if filters else t
        total = int(expr.count().to_pyarrow().as_py())
        page = expr.order_by([t.at.desc(), t.delivery_id]).select(*LOG_COLUMNS)
        rows = wh.query(page.limit(limit, offset=offset)).to_pylist()
    return {"rows": rows, "total": total, "limit": limit, "offset": offset}
