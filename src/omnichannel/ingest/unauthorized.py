"""Collector requests without a valid write key: all counted, a bounded sample kept.

Anyone can post to the collector, so what an unauthenticated request costs us must not
grow with what it sends: it is counted (per UTC hour and reason, in the operational
store's ``unauthorized_requests``), and only the first ``sample_per_hour`` of each hour
are kept as dead letters, truncated to ``sample_bytes``, so an operator can see what a
misconfigured SDK sends without anonymous traffic filling the event log.

Example::

    guard = UnauthorizedRequests(store, sample_per_hour=100, sample_bytes=4096)
    if guard.note("missing_key", size=len(body)):
        ...  # keep body[: guard.sample_bytes] as a dead letter
    unauthorized_counts(session)   # what `GET /v1/events/stats` shows
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnichannel.opstore import OpStore
from omnichannel.opstore.models import UnauthorizedCount

MISSING_KEY = "missing_key"
INVALID_KEY = "invalid_key"  # unknown or revoked


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class UnauthorizedRequests:
    """In-memory counts flushed to the operational store every few seconds and on close."""

    def __init__(
        self,
        store: OpStore,
        *,
        sample_per_hour: int,
        sample_bytes: int,
        flush_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.sample_per_hour = sample_per_hour
        self.sample_bytes = sample_bytes
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        # One flush at a time: two read-add-write transactions on one row would lose a count.
        self._flushing = threading.Lock()
        self._window: datetime | None = None
        self._sampled_in_window = 0
        # (hour, reason) -> [requests, sampled, bytes] not yet written.
        self._pending: dict[tuple[datetime, str], list[int]] = {}
        self._last_flush = time.monotonic()

    def note(self, reason: str, *, size: int, now: datetime | None = None) -> bool:
        """Count one refused request; True when it is one of this hour's sample to keep."""
        hour = _hour(now or datetime.now(UTC))
        with self._lock:
            if hour != self._window:
                self._window, self._sampled_in_window = hour, 0
            keep = self._sampled_in_window < self.sample_per_hour
            self._sampled_in_window += keep
            counts = self._pending.setdefault((hour, reason), [0, 0, 0])
            counts[0] += 1
            counts[1] += keep
            counts[2] += size
        return keep

    def flush_due(self) -> bool:
        return bool(self._pending) and time.monotonic() - self._last_flush >= self.flush_seconds

    def flush(self) -> None:
        """Add the pending counts to the store (one transaction)."""
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending:
            return
        try:
            with self.store.session() as session:
                for (hour, reason), (requests, sampled, size) in pending.items():
                    row = session.get(UnauthorizedCount, (hour, reason))
                    if row is None:
                        row = UnauthorizedCount(
                            hour=hour, reason=reason, requests=0, sampled=0, bytes_received=0
                        )
                        session.add(row)
                    row.requests += requests
                    row.sampled += sampled
                    row.bytes_received += size
        except Exception:
            with self._lock:  # keep them for the next flush rather than lose the count
                for key, counts in pending.items():
                    merged = self._pending.setdefault(key, [0, 0, 0])
                    for i, value in enumerate(counts):
                        merged[i] += value
            raise


def unauthorized_counts(session: Session) -> dict[str, Any]:
    """Totals of refused unauthenticated requests: all, kept as samples, by reason, last hour."""
    rows = session.execute(
        select(
            UnauthorizedCount.reason,
            func.sum(UnauthorizedCount.requests),
            func.sum(UnauthorizedCount.sampled),
            func.max(UnauthorizedCount.hour),
        ).group_by(UnauthorizedCount.reason)
    ).all()
    by_reason = Counter({reason: int(requests or 0) for reason, requests, _, _ in rows})
    latest = max((hour for *_, hour in rows if hour is not None), default=None)
    return {
        "requests": sum(by_reason.values()),
        "sampled": sum(int(sampled or 0) for _, _, sampled, _ in rows),
        "by_reason": dict(by_reason),
        "latest_hour": latest.isoformat() if latest is not None else None,
    }
