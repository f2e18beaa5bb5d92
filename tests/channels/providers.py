"""Helpers of the SMS, push, WeChat and inbox tests: run an adapter against a stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from omnichannel.channels.adapter import AdapterContext, Delivery, SendOutcome
from omnichannel.opstore.models import MessageKind

PUBLIC = "https://omni.example"


def delivery(channel: str, address: str, content: Mapping[str, Any], **changes: Any) -> Delivery:
    values: dict[str, Any] = {
        "outbox_id": 1,
        "idempotency_key": "k-1",
        "channel": channel,
        "kind": MessageKind.MARKETING,
        "profile_id": "p_1",
        "address": address,
        "content": content,
        "attempt": 1,
    }
    values.update(changes)
    return Delivery(**values)


def context(**extra: Any) -> AdapterContext:
    return AdapterContext(public_base_url=PUBLIC, extra=extra)


def send_all(adapter: Any, deliveries: list[Delivery]) -> list[SendOutcome]:
    """Open the adapter, send each delivery in turn, close it: on one event loop."""

    async def run() -> list[SendOutcome]:
        await adapter.open()
        try:
            return [await adapter.send(d) for d in deliveries]
        finally:
            await adapter.close()

    return asyncio.run(run())
