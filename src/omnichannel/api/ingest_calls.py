"""Calls the server makes itself, handed to the collector's durable log like a source's.

Tracking links (opens, clicks, unsubscribes), provider callbacks (SMS replies, WeChat
events) and bounce webhooks turn what they receive into Segment calls or dead letters.
They go through the same path as ``POST /v1/batch``: checked by the collector's
``parse_calls`` (a call it refuses becomes a dead letter with its reason), written to
the event log, acknowledged once durable, loaded by the loader, so segments, journeys
and funnels see them like any event and a retried callback dedupes on its messageId.

Example::

    emit = emitter(services, origin="tracking /t/o")
    if emit is not None:
        emit("email", [{"type": "track", "event": "Email Opened", "userId": "ann", ...}])
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from omnichannel.errors import WarehouseError

if TYPE_CHECKING:
    from omnichannel.api.services import Services
    from omnichannel.ingest.deadletter import DeadLetter
    from omnichannel.ingest.runtime import IngestRuntime

Calls = Sequence[Mapping[str, Any]]
DURABLE_SECONDS = 30.0


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # the collector's naive UTC


def submit_calls(runtime: IngestRuntime, calls: Calls, *, source: str, origin: str) -> None:
    """Check ``calls`` as the collector does and make them durable (refused ones as dead
    letters); raises ``WarehouseError`` when the log cannot be written."""
    from omnichannel.ingest.deadletter import DeadLetter
    from omnichannel.ingest.segment import parse_calls

    received_at = _now()
    parsed = parse_calls(
        {"batch": list(calls)},
        source=source,
        received_at=received_at,
        limits=runtime.limits,
        path_type=None,
    )
    letters = [
        DeadLetter(
            source=source,
            kind="event",
            origin=origin,
            payload=str(r.payload),
            field=r.field,
            value=r.value,
            reason=r.reason,
            received_at=received_at,
            dead_letter_id=uuid.uuid4().hex,
        )
        for r in parsed.refusals
    ]
    _write(runtime, source=source, origin=origin, events=parsed.rows, letters=letters)


def submit_letters(
    runtime: IngestRuntime, letters: Sequence[DeadLetter], *, source: str, origin: str
) -> None:
    """Keep records the server refused (a bounce report it cannot read) as dead letters."""
    _write(runtime, source=source, origin=origin, events=[], letters=letters)


def dead_letter(
    *, source: str, kind: str, origin: str, payload: str, field: str, value: str, reason: str
) -> DeadLetter:
    from omnichannel.ingest.deadletter import DeadLetter

    return DeadLetter(
        source=source,
        kind=kind,
        origin=origin,
        payload=payload,
        field=field,
        value=value,
        reason=reason,
        received_at=_now(),
        dead_letter_id=uuid.uuid4().hex,
    )


def _write(
    runtime: IngestRuntime,
    *,
    source: str,
    origin: str,
    events: list[dict[str, Any]],
    letters: Sequence[DeadLetter],
) -> None:
    from omnichannel.ingest.loader import encode_record

    record = encode_record(source=source, origin=origin, events=events, dead_letters=list(letters))
    try:
        runtime.log.submit(record).result(timeout=DURABLE_SECONDS)
    except Exception as exc:
        raise WarehouseError(f"the event log cannot be written now: {exc}") from exc


def emitter(services: Services, *, origin: str) -> Callable[[str, Calls], None] | None:
    """``emit(source, calls)`` into this server's collector, or None when ingestion is not
    running. The caller names the source per call: an unsubscribe link's events are its
    message's channel's (``sms``, ``push``...), not the route's."""
    runtime = services.ingest
    if runtime is None:
        return None
    return lambda source, calls: submit_calls(runtime, calls, source=source, origin=origin)
