"""An alert's opening or resolution, sent by webhook and email through the channels.

Each notification is one message on the one send path (``platform.messages.send``), so
the channels' workers deliver it with their retries, breaker and dead letters, and the
delivery log records it. Messages are transactional (an operator's alert is no
marketing: no consent or frequency cap applies) and keyed by the alert, its state and
the target, so a check run twice notifies once.

Webhook body (the webhook channel's envelope, ``event`` = ``alert.opened`` or
``alert.resolved``)::

    {"id": ..., "event": "alert.opened", "data": {"alert": {id, rule, kind, subject,
     state, value, low, high, message, opened_at, resolved_at...}}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omnichannel.analytics.alerts.rules import Notify
from omnichannel.errors import OmniError
from omnichannel.jsonable import jsonable

if TYPE_CHECKING:
    from omnichannel.platform import Platform


def send_notifications(
    platform: Platform, alert: dict[str, Any], state: str, targets: Notify
) -> list[dict[str, Any]]:
    """Queue one message per target; each answer is its outbox id and status, or its error
    (a channel not configured costs the other targets nothing)."""
    body = jsonable(alert)
    sent: list[dict[str, Any]] = []
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("webhook", endpoint, {"event": f"alert.{state}", "body": {"alert": body}})
        for endpoint in targets.webhook
    ]
    subject = f"[omnichannel] alert {state}: {alert['rule']} ({alert['subject']})"
    text = (
        f"{alert['message']}\n\nrule: {alert['rule']} ({alert['kind']})\n"
        f"subject: {alert['subject']}\nvalue: {alert['value']}\n"
        f"normal range: {alert['low']} to {alert['high']}\nalert id: {alert['id']}\n"
    )
    requests += [
        ("email", address, {"subject": subject, "text": text}) for address in targets.email
    ]
    for channel, address, content in requests:
        try:
            answer = platform.messages.send(
                channel=channel,
                address=address,
                content=content,
                kind="transactional",
                origin="api",
                campaign=f"alert:{alert['rule']}",
                idempotency_key=f"alert:{alert['id']}:{state}:{channel}:{address}",
            )
            sent.append(
                {
                    "channel": channel,
                    "address": address,
                    "outbox_id": answer.get("outbox_id"),
                    "status": answer.get("status"),
                }
            )
        except OmniError as exc:
            sent.append({"channel": channel, "address": address, "error": str(exc)})
    if requests:
        platform.channels.wake({c for c, _, _ in requests})
    return sent
