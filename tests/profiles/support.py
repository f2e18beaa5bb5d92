"""A tiny hand-made business for profile tests: records, events and orders with known traits."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from omnichannel.warehouse import Warehouse

T0 = datetime(2026, 3, 2)  # a Monday, 00:00 UTC
AS_OF = T0 + timedelta(days=100)


def add_orders(wh: Warehouse, orders: list[dict[str, Any]]) -> None:
    """Orders ``{id, user, day, total, channel[, campaign, hour]}``; source = channel."""
    wh.append(
        "orders",
        pa.table(
            {
                "order_id": [o["id"] for o in orders],
                "source": [o.get("source", o["channel"]) for o in orders],
                "channel": [o["channel"] for o in orders],
                "user_id": [o["user"] for o in orders],
                "ordered_at": [
                    T0 + timedelta(days=o["day"], hours=o.get("hour", 10)) for o in orders
                ],
                "status": [o.get("status", "completed") for o in orders],
                "total": [Decimal(str(o["total"])) for o in orders],
                "currency": ["CNY"] * len(orders),
                "campaign_id": [o.get("campaign") for o in orders],
            }
        ),
    )


def add_events(wh: Warehouse, events: list[dict[str, Any]]) -> None:
    """Track events ``{user, at, event, channel[, tz, props, device, os, campaign]}``."""
    wh.append(
        "events",
        pa.table(
            {
                "message_id": [f"m{i}" for i in range(len(events))],
                "type": [e.get("type", "track") for e in events],
                "event": [e.get("event", "Page Viewed") for e in events],
                "user_id": [e["user"] for e in events],
                "anonymous_id": [e.get("anon") for e in events],
                "timestamp": [e["at"] for e in events],
                "source": [e.get("channel", "web") for e in events],
                "channel": [e.get("channel", "web") for e in events],
                "context_timezone": [e.get("tz") for e in events],
                "context_device_type": [e.get("device") for e in events],
                "context_os_name": [e.get("os") for e in events],
                "context_campaign_name": [e.get("campaign") for e in events],
                "properties": [e.get("props") for e in events],
                "loaded_at": [e["at"] for e in events],
            }
        ),
    )


def add_identities(wh: Warehouse, users: list[str]) -> None:
    """One CRM record per user carrying its ``user_id``, so identity resolves one profile each."""
    wh.append(
        "identifiers",
        pa.table(
            {
                "source": ["crm"] * len(users),
                "record_id": [f"c-{u}" for u in users],
                "id_type": ["user_id"] * len(users),
                "id_value": users,
                "observed_at": [T0] * len(users),
            }
        ),
    )


def profiles_by_user(wh: Warehouse) -> dict[str, dict[str, Any]]:
    """Each built profile row, keyed by the user id it holds."""
    pi = wh.table("profile_identifiers")
    users = pi.filter(pi.id_type == "user_id").select("profile_id", user="id_value")
    rows = wh.table("profiles").join(users, "profile_id").to_pyarrow().to_pylist()
    return {r["user"]: r for r in rows}
