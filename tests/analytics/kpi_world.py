"""A tiny hand-made business whose KPIs can be worked out by hand (tests/analytics/test_kpis.py).

Users ann, bob, cat, dan; campaigns ``E1`` (email, "Spring mail") and ``S1`` (search,
"Spring search"). Times are days after ``T0`` (a Monday).

- four email messages of E1, one to each (ann's also logged ``delivered``: one send);
- ann opens hers twice (one open), bob once; ann clicks and shares it;
- cat visits from the search campaign; the search ads show 1,000 times for 10 clicks;
- spend: S1 200, E1 20;
- ann buys 100 (her ``Order Completed`` event carries the email campaign), cat buys 80
  with the search coupon, bob's E1 order of 50 is refunded, dan buys 30 untagged.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa

from omnichannel.identity import resolve
from omnichannel.warehouse import Warehouse
from tests.profiles.support import T0, add_events, add_identities, add_orders

USERS = ["ann", "bob", "cat", "dan"]


def at(day: float) -> object:
    return T0 + timedelta(days=day)


def build_kpi_world(wh: Warehouse) -> None:
    add_identities(wh, USERS)
    mail = {"campaign": "Spring mail", "channel": "email"}
    add_events(
        wh,
        [
            {
                "user": "ann",
                "at": at(1),
                "event": "Email Opened",
                **mail,
                "props": '{"delivery_id": "d1"}',
            },
            {
                "user": "ann",
                "at": at(1.5),
                "event": "Email Opened",
                **mail,
                "props": '{"delivery_id": "d1"}',
            },
            {
                "user": "bob",
                "at": at(1),
                "event": "Email Opened",
                **mail,
                "props": '{"delivery_id": "d2"}',
            },
            {"user": "ann", "at": at(1.1), "event": "Email Link Clicked", **mail},
            {"user": "ann", "at": at(1.2), "event": "Product Shared", **mail},
            {"user": "cat", "at": at(2), "type": "page", "campaign": "Spring search"},
            {
                "user": "ann",
                "at": at(3),
                "event": "Order Completed",
                **mail,
                "props": '{"order_id": "o1"}',
            },
        ],
    )
    add_orders(
        wh,
        [
            {"id": "o1", "user": "ann", "day": 3, "total": 100, "channel": "web"},
            {
                "id": "o2",
                "user": "cat",
                "day": 2,
                "total": 80,
                "channel": "store",
                "campaign": "S1",
            },
            {
                "id": "o3",
                "user": "bob",
                "day": 2,
                "total": 50,
                "channel": "web",
                "campaign": "E1",
                "status": "refunded",
            },
            {"id": "o4", "user": "dan", "day": 4, "total": 30, "channel": "web"},
        ],
    )
    wh.append(
        "campaigns",
        pa.table(
            {
                "campaign_id": ["E1", "S1"],
                "name": ["Spring mail", "Spring search"],
                "channel": ["email", "search"],
            }
        ),
    )
    wh.append(
        "ad_spend",
        pa.table(
            {
                "date": [date(2026, 3, 2), date(2026, 3, 2)],
                "channel": ["search", "email"],
                "campaign_id": ["S1", "E1"],
                "spend": [Decimal("200"), Decimal("20")],
                "impressions": [1000, None],
                "clicks": [10, None],
            }
        ),
    )
    wh.append(
        "deliveries",
        pa.table(
            {
                "delivery_id": ["d1", "d1b", "d2", "d3", "d4"],
                "outbox_id": pa.array([1, 1, 2, 3, 4], pa.int64()),
                "channel": ["email"] * 5,
                "campaign_id": ["E1"] * 5,
                "template": ["spring"] * 5,
                "recipient": ["ann", "ann", "bob", "cat", "dan"],
                "status": ["sent", "delivered", "sent", "sent", "sent"],
                "sent_at": [at(0.5)] * 5,
            }
        ),
    )
    resolve(wh, full=True)
