"""A small hand-made business whose attribution paths can be read off by eye.

Three people (users ``ann``, ``bob``, ``cat``), their sessions (UTM-tagged or direct),
a store kiosk visit, a coupon order and their purchases; campaigns on ``search``,
``email`` and ``offline_flyer`` with spend. Times are days after ``T0``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa

from omnichannel.identity import resolve
from omnichannel.warehouse import Warehouse
from tests.profiles.support import T0, add_events, add_identities, add_orders

CAMPAIGNS = [
    ("S1", "Spring search", "search"),
    ("E1", "Spring mail", "email"),
    ("F1", "Spring flyer", "offline_flyer"),
]
SPEND = {"search": 300.0, "email": 20.0, "offline_flyer": 100.0}


def at(day: float) -> object:
    return T0 + timedelta(days=day)


def build_world(wh: Warehouse) -> None:
    """ann: search (day 1) > email click (day 3) > direct (day 4) > buys 100 on day 5,
    then direct on day 20 and nothing more (a null path).
    bob: search on day 2 (older than a 10-day lookback before his order), direct on day 25,
    buys 50 on day 26 (a cancelled order on day 27 is no purchase).
    cat: a store kiosk visit on day 8, buys 80 in store with the flyer coupon on day 8.
    dan: clicks an SMS (a ``clicked`` step of the delivery log, found by his recipient) on
    day 10 and buys 30 on day 11."""
    add_identities(wh, ["ann", "bob", "cat", "dan"])
    add_events(
        wh,
        [
            {"user": "ann", "at": at(1), "type": "page", "campaign": "Spring search"},
            {"user": "ann", "at": at(1.01), "type": "page", "campaign": "Spring search"},
            {
                "user": "ann",
                "at": at(3),
                "type": "track",
                "event": "Email Link Clicked",
                "campaign": "Spring mail",
                "channel": "email",
            },
            {
                "user": "ann",
                "at": at(3.1),
                "type": "track",
                "event": "Email Opened",
                "campaign": "Spring mail",
                "channel": "email",
            },
            {"user": "ann", "at": at(4), "type": "page"},
            {"user": "ann", "at": at(20), "type": "page"},
            {"user": "bob", "at": at(2), "type": "page", "campaign": "Spring search"},
            {"user": "bob", "at": at(25), "type": "screen", "channel": "app"},
            {"user": "cat", "at": at(8) - timedelta(hours=2), "type": "screen", "channel": "store"},
        ],
    )
    add_orders(
        wh,
        [
            {"id": "o1", "user": "ann", "day": 5, "total": 100, "channel": "web"},
            {"id": "o2", "user": "bob", "day": 26, "total": 50, "channel": "app"},
            {
                "id": "o3",
                "user": "bob",
                "day": 27,
                "total": 70,
                "channel": "app",
                "status": "cancelled",
            },
            {
                "id": "o4",
                "user": "cat",
                "day": 8,
                "total": 80,
                "channel": "store",
                "campaign": "F1",
                "source": "pos",
            },
            {"id": "o5", "user": "dan", "day": 11, "total": 30, "channel": "web"},
        ],
    )
    wh.append(
        "campaigns",
        pa.table(
            {
                "campaign_id": [c[0] for c in CAMPAIGNS],
                "name": [c[1] for c in CAMPAIGNS],
                "channel": [c[2] for c in CAMPAIGNS],
            }
        ),
    )
    days = [date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)]
    wh.append(
        "ad_spend",
        pa.table(
            {
                "date": days,
                "channel": list(SPEND),
                "campaign_id": ["S1", "E1", "F1"],
                "spend": [Decimal(str(v)) for v in SPEND.values()],
            }
        ),
    )
    wh.append(
        "deliveries",
        pa.table(
            {
                "delivery_id": ["d1", "d2"],
                "channel": ["sms", "sms"],
                "recipient": ["dan", "dan"],
                "status": ["sent", "clicked"],
                "queued_at": [at(10), at(10)],
                "sent_at": [at(10), at(10.1)],
            }
        ),
    )
    resolve(wh, full=True)
