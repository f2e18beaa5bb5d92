"""Consent captured from events: a ``Consent Updated`` track call becomes a ledger row.

A website's cookie banner, an app's settings screen or a store's sign-up tablet sends::

    analytics.track("Consent Updated", {"purpose": "marketing", "channel": "email",
                    "status": "withdrawn", "text_version": "2026-03", "lawful_basis": "consent"})

The subject is the call's ``userId`` (``user_id:...``), else its ``anonymousId``; the
evidence keeps the event's ``messageId``, source, page and IP so the decision can be
shown to a regulator. An event whose properties the ledger refuses (an unknown purpose)
is logged and skipped: the event itself is stored whatever happens here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from omnichannel.consumers.runner import StartAt
from omnichannel.errors import ValidationError
from omnichannel.privacy import ledger

if TYPE_CHECKING:
    from omnichannel.opstore import OpStore
    from omnichannel.platform import Platform
    from omnichannel.privacy.keyring import Keyring

log = logging.getLogger(__name__)

EVENT_NAME = "Consent Updated"
CONSUMER_NAME = "consent-ledger"
ACTOR = "collector"


def decisions_of(batch: pa.Table) -> list[dict[str, Any]]:
    """The ledger decisions ``Consent Updated`` events in ``batch`` carry."""
    if batch.num_rows == 0 or "event" not in batch.column_names:
        return []
    named = batch.filter(pc.fill_null(pc.equal(batch["event"], EVENT_NAME), False))
    found = []
    for row in named.to_pylist():
        if row.get("type") != "track" or row.get("event") != EVENT_NAME:
            continue
        props = _json(row.get("properties"))
        if row.get("user_id"):
            subject = ("user_id", str(row["user_id"]))
        elif row.get("anonymous_id"):
            subject = ("anonymous_id", str(row["anonymous_id"]))
        else:
            continue
        at = row.get("timestamp") or row.get("received_at")
        if isinstance(at, datetime) and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        evidence = {
            "message_id": row.get("message_id"),
            "source": row.get("source"),
            "page": row.get("context_page_url"),
            "ip": row.get("context_ip"),
        }
        found.append(
            {
                "subject_type": subject[0],
                "subject_value": subject[1],
                "purpose": str(props.get("purpose") or "marketing"),
                "channel": str(props.get("channel") or ledger.ANY_CHANNEL),
                "status": str(props.get("status") or ""),
                "lawful_basis": str(props.get("lawful_basis") or "consent"),
                "text_version": str(props.get("text_version") or ""),
                "source": f"event:{row.get('source') or 'unknown'}",
                "evidence": {k: v for k, v in evidence.items() if v},
                "at": at if isinstance(at, datetime) else None,
            }
        )
    return found


def _json(text: object) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def capture(store: OpStore, batch: pa.Table, sealer: Keyring | None = None) -> int:
    """Record the decisions of ``batch``'s ``Consent Updated`` events; returns how many."""
    recorded = 0
    for decision in decisions_of(batch):
        with store.session() as session:
            try:
                ledger.record(session, actor=ACTOR, sealer=sealer, **decision)
            except ValidationError as exc:
                log.warning("consent event %s skipped: %s", decision["evidence"], exc)
                continue
            recorded += 1
    return recorded


@dataclass
class ConsentEvents:
    """The durable consumer feeding the ledger from stored events."""

    store: OpStore
    name: str = CONSUMER_NAME
    start_at: StartAt = "beginning"
    sealer: Keyring | None = None

    @classmethod
    def of(cls, platform: Platform) -> ConsentEvents:
        return cls(platform.opstore, sealer=platform.privacy.keyring)

    def handle(self, batch: pa.Table) -> None:
        capture(self.store, batch, self.sealer)
