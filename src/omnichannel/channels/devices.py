"""A message to several of a person's devices: one provider call per device, settled one by one.

A push goes to every device a person's events carried a token from (``push.py``), and
stays one outbox message: one idempotency key, one count against the frequency caps, one
answer to the journey or campaign that sent it. Its content's ``devices`` lists them;
FCM's HTTP v1 API takes one token a request, so the channel's worker (``dispatcher``)
calls the adapter once per device and hands the answers here, which turn them into:

- one ``deliveries`` row per copy (``sent`` with the provider's id, or ``failed``), its
  recipient the device, so a funnel can count devices as well as messages;
- a suppression for each dead token alone (``UNREGISTERED``...): the other devices'
  copies are unaffected, and the next message leaves the dead one out;
- the message's own state: ``sent`` once any copy is (in this attempt or an earlier
  one: the first copy's provider id is kept on the message); ``queued`` for a retry when
  a device answered "later", its ``devices`` narrowed to those, so the devices already
  reached are not sent it twice; ``failed`` when no copy went.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omnichannel.channels import queue
from omnichannel.channels.adapter import (
    DEVICES,
    Rejected,
    RetryLater,
    RetryPolicy,
    SendOutcome,
    Sent,
    trim_response,
)
from omnichannel.channels.backoff import exhausted, retry_delay
from omnichannel.channels.deliveries import DeliveryEvent
from omnichannel.opstore.models import OutboxMessage, OutboxStatus, utcnow


def devices_of(row: OutboxMessage) -> list[str]:
    """The addresses a message goes to: its ``devices``, else its one address."""
    devices = (row.content or {}).get(DEVICES)
    return [str(d) for d in devices] if isinstance(devices, list) else [row.address]


def fans_out(row: OutboxMessage) -> bool:
    return DEVICES in (row.content or {})


def without_devices(content: Mapping[str, Any]) -> dict[str, Any]:
    """The message as the adapter sees it (it never sees the device list)."""
    return {k: v for k, v in content.items() if k != DEVICES}


@dataclass(frozen=True)
class Settled:
    """What the copies of one message come to."""

    settlement: queue.Settlement
    events: list[DeliveryEvent]
    suppress: list[tuple[str, Rejected]]
    # The provider answered at least one copy (it is up: the breaker's success).
    answered: bool
    last_error: str | None


def settle_copies(
    row: OutboxMessage,
    outcomes: list[tuple[str, SendOutcome]],
    *,
    retry: RetryPolicy,
    holder: str,
) -> Settled:
    """Settle a message from each device's answer (see the module docstring)."""
    sent = [(d, o) for d, o in outcomes if isinstance(o, Sent)]
    later = [(d, o) for d, o in outcomes if isinstance(o, RetryLater)]
    refused = [(d, o) for d, o in outcomes if isinstance(o, Rejected)]
    events = [
        DeliveryEvent.of(
            row,
            "sent",
            address=d,
            reason=None,
            detail=None,
            provider_message_id=o.provider_message_id,
        )
        for d, o in sent
    ]
    events += [
        DeliveryEvent.of(row, "failed", address=d, reason=o.reason, detail=o.response)
        for d, o in refused
    ]
    first_id = sent[0][1].provider_message_id if sent else None
    response = trim_response("; ".join(f"{d}: {o.response}" for d, o in outcomes))
    last_error = (later or refused or [("", None)])[0][1]
    if later and not exhausted(retry, row.attempts):
        waits = [o.retry_after for _, o in later if o.retry_after is not None]
        delay = retry_delay(retry, row.attempts, retry_after=max(waits) if waits else None)
        remaining = [d for d, _ in later]
        settlement = queue.Settlement(
            row.id,
            holder,
            OutboxStatus.QUEUED,
            "retrying",
            response,
            provider_message_id=first_id,
            provider_response=response,
            next_attempt_at=utcnow() + delay,
            content={**(row.content or {}), DEVICES: remaining},
        )
        detail = f"next attempt in {delay.total_seconds():.1f} s: {response}"
        events += [
            DeliveryEvent.of(row, "retrying", address=d, reason="retrying", detail=detail)
            for d in remaining
        ]
    else:
        # A copy reached a device now or in an earlier attempt (its id kept on the message).
        reached = bool(sent) or row.provider_message_id is not None
        reason = refused[0][1].reason if refused and not later else "retries_exhausted"
        events += [
            DeliveryEvent.of(
                row, "failed", address=d, reason="retries_exhausted", detail=o.response
            )
            for d, o in later
        ]
        settlement = (
            queue.Settlement(
                row.id,
                holder,
                OutboxStatus.SENT,
                provider_message_id=first_id,
                provider_response=response,
            )
            if reached
            else queue.Settlement(
                row.id, holder, OutboxStatus.FAILED, reason, response, provider_response=response
            )
        )
    return Settled(
        settlement=settlement,
        events=events,
        suppress=[(d, o) for d, o in refused if o.suppress],
        answered=bool(sent or refused),
        last_error=None if last_error is None else last_error.response,
    )
