"""Four people whose funnel can be read off by eye (times are days after ``T0``).

Steps used by the tests: Product Viewed (V) > Product Added (A) > a purchase (O).

- ann: V on web (price 120) day 0 10:00, A day 0 11:00, buys **in a store** day 2 10:00
  (a POS order: one profile holds both, so the store purchase converts her).
- bob: V on the app (price 120) day 0 10:00, a page view day 1, A day 3 10:00, no order.
- cat: A day 0, V on web (price 120) day 1 09:00, buys on the web day 1 10:00.
- dan: V on web (price 20) day 0 10:00, A day 9 (outside a 7-day window).
"""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa

from omnichannel.identity import resolve
from omnichannel.warehouse import Warehouse
from tests.profiles.support import T0, add_events, add_identities, add_orders

PEOPLE = ["ann", "bob", "cat", "dan"]
STEPS = ["Product Viewed", "Product Added", {"order": {}}]


def at(day: float, hour: float = 10) -> object:
    return T0 + timedelta(days=day, hours=hour)


def view(user: str, day: float, hour: float, channel: str, price: int) -> dict[str, object]:
    return {
        "user": user,
        "at": at(day, hour),
        "event": "Product Viewed",
        "channel": channel,
        "props": f'{{"price": {price}}}',
        "campaign": "Spring mail" if user == "ann" else None,
    }


def add(user: str, day: float, hour: float = 10) -> dict[str, object]:
    return {"user": user, "at": at(day, hour), "event": "Product Added"}


def build_funnel_world(wh: Warehouse) -> None:
    add_identities(wh, PEOPLE)
    add_events(
        wh,
        [
            view("ann", 0, 10, "web", 120),
            add("ann", 0, 11),
            view("bob", 0, 10, "app", 120),
            {"user": "bob", "at": at(1), "type": "page", "event": None},
            add("bob", 3),
            add("cat", 0),
            view("cat", 1, 9, "web", 120),
            view("dan", 0, 10, "web", 20),
            add("dan", 9),
        ],
    )
    add_orders(
        wh,
        [
            {"id": "o1", "user": "ann", "day": 2, "total": 80, "channel": "store", "source": "pos"},
            {"id": "o2", "user": "cat", "day": 1, "total": 30, "channel": "web"},
        ],
    )
    resolve(wh, full=True)


def profile_of(wh: Warehouse) -> dict[str, str]:
    pi = wh.table("profile_identifiers")
    rows = pi.filter(pi.id_type == "user_id").to_pyarrow().to_pylist()
    return {r["id_value"]: r["profile_id"] for r in rows}


def add_vip(wh: Warehouse, users: list[str]) -> None:
    ids = profile_of(wh)
    wh.append(
        "segment_memberships",
        pa.table(
            {
                "segment": ["vip"] * len(users),
                "profile_id": [ids[u] for u in users],
                "entered_at": [T0] * len(users),
            }
        ),
    )
