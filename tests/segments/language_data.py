"""A five-person business for the condition-language tests, built through the real pipeline.

Identity resolution and the profile build run on it (so ``profiles`` and
``profile_timeline`` exist), and the right answers are obvious from the table below.
``NOW`` is the evaluation clock; "recent" means within the last 30 days.

=====  ==========================================================================
ann    3 Order Completed (total 120, 80, 40) in the last 30 days, iOS app with a push
       token (app 2.4.0), orders: 2 in the store, 1 on the web; consent push granted
bob    1 Order Completed (total 30) 10 days ago, Android, 1 web order 10 days ago
cat    4 Order Completed 60 days ago (none recent), web only, 1 web order 60 days ago
dan    Product Viewed then Order Completed 2 hours later (20 days ago), sent "VIP " on
       WeChat 5 days ago and an SMS reply "STOP please" 3 days ago; app on iOS, no token
eve    a CRM contact only: no events, no orders
=====  ==========================================================================
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from omnichannel.identity.resolve import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import Warehouse

NOW = datetime(2026, 6, 1, 12, 0)
PEOPLE = ("ann", "bob", "cat", "dan", "eve")


def ago(days: float = 0, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def event(
    user: str, name: str, at: datetime, *, props: dict[str, Any] | None = None, **context: Any
) -> dict[str, Any]:
    return {"user": user, "event": name, "at": at, "props": props, **context}


EVENTS = [
    event(
        "ann",
        "Order Completed",
        ago(2),
        props={"total": 120, "category": "shoes"},
        os="iOS",
        device="mobile",
        app="2.4.0",
        token="tok-ann",
        channel="app",
    ),
    event(
        "ann",
        "Order Completed",
        ago(9),
        props={"total": 80, "category": "bags"},
        os="iOS",
        device="mobile",
        app="2.4.0",
        token="tok-ann",
        channel="app",
    ),
    event(
        "ann",
        "Order Completed",
        ago(20),
        props={"total": 40, "category": "shoes"},
        os="iOS",
        device="mobile",
        app="2.4.0",
        token="tok-ann",
        channel="app",
    ),
    event(
        "bob",
        "Order Completed",
        ago(10),
        props={"total": 30},
        os="Android",
        device="mobile",
        app="2.3.1",
        channel="app",
    ),
    *[event("cat", "Order Completed", ago(60, h), props={"total": 10}) for h in range(4)],
    event(
        "dan",
        "Product Viewed",
        ago(20, 2),
        props={"category": "shoes"},
        os="iOS",
        device="mobile",
        app="2.4.0",
        channel="app",
    ),
    event(
        "dan",
        "Order Completed",
        ago(20),
        props={"total": 55},
        os="iOS",
        device="mobile",
        app="2.4.0",
        channel="app",
    ),
    event(
        "dan",
        "Message Received",
        ago(5),
        props={"channel": "wechat", "text": "VIP "},
        channel="wechat",
    ),
    event(
        "dan",
        "Message Received",
        ago(3),
        props={"channel": "sms", "text": "STOP please"},
        channel="sms",
    ),
]
ORDERS = [
    {"id": "o1", "user": "ann", "at": ago(2), "total": 120, "channel": "store"},
    {"id": "o2", "user": "ann", "at": ago(9), "total": 80, "channel": "store"},
    {"id": "o3", "user": "ann", "at": ago(20), "total": 40, "channel": "web"},
    {"id": "o4", "user": "bob", "at": ago(10), "total": 30, "channel": "web"},
    {"id": "o5", "user": "cat", "at": ago(60), "total": 10, "channel": "web"},
]


def add_events(
    wh: Warehouse,
    events: list[dict[str, Any]],
    *,
    loaded_at: datetime | None = None,
    first_id: int = 0,
) -> None:
    def context(e: dict[str, Any]) -> str | None:
        ctx: dict[str, Any] = {}
        if e.get("app"):
            ctx["app"] = {"version": e["app"]}
        if e.get("token"):
            ctx["device"] = {"token": e["token"]}
        return json.dumps(ctx) if ctx else None

    wh.append(
        "events",
        pa.table(
            {
                "message_id": [f"m{first_id + i}" for i in range(len(events))],
                "type": ["track"] * len(events),
                "event": [e["event"] for e in events],
                "user_id": [e["user"] for e in events],
                "timestamp": [e["at"] for e in events],
                "source": [e.get("channel", "web") for e in events],
                "channel": [e.get("channel", "web") for e in events],
                "context_device_type": [e.get("device") for e in events],
                "context_os_name": [e.get("os") for e in events],
                "context_app_name": ["Shop" if e.get("app") else None for e in events],
                "context": [context(e) for e in events],
                "properties": [json.dumps(e["props"]) if e["props"] else None for e in events],
                "loaded_at": [loaded_at or e["at"] for e in events],
            }
        ),
    )


def add_orders(wh: Warehouse) -> None:
    wh.append(
        "orders",
        pa.table(
            {
                "order_id": [o["id"] for o in ORDERS],
                "source": ["shop"] * len(ORDERS),
                "channel": [o["channel"] for o in ORDERS],
                "user_id": [o["user"] for o in ORDERS],
                "ordered_at": [o["at"] for o in ORDERS],
                "status": ["completed"] * len(ORDERS),
                "total": [Decimal(o["total"]) for o in ORDERS],
                "currency": ["CNY"] * len(ORDERS),
            }
        ),
    )


def consents(rows: list[tuple[str, str, str]]) -> pa.Table:
    from omnichannel.profiles.traits.consent import consent_table

    return consent_table(
        [
            {
                "subject_type": "user_id",
                "subject_value": user,
                "channel": channel,
                "status": status,
                "updated_at": ago(30),
            }
            for user, channel, status in rows
        ]
    )


def build_business(wh: Warehouse) -> None:
    """The five people, resolved and built as of ``NOW``."""
    wh.append(
        "identifiers",
        pa.table(
            {
                "source": ["crm"] * len(PEOPLE),
                "record_id": [f"c-{u}" for u in PEOPLE],
                "id_type": ["user_id"] * len(PEOPLE),
                "id_value": list(PEOPLE),
                "observed_at": [ago(200)] * len(PEOPLE),
            }
        ),
    )
    add_events(wh, EVENTS)
    add_orders(wh)
    resolve(wh)
    build_profiles(
        wh,
        as_of=NOW,
        consents=consents([("ann", "push", "granted"), ("dan", "push", "denied")]),
    )


def profile_of(wh: Warehouse) -> dict[str, str]:
    """user id -> profile_id."""
    pi = wh.table("profile_identifiers")
    rows = pi.filter(pi.id_type == "user_id").select("profile_id", "id_value").to_pyarrow()
    return {r["id_value"]: r["profile_id"] for r in rows.to_pylist()}
