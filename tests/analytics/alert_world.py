"""A business built so each ready-made alert has a moment it fires and one it stays quiet.

Times are after ``A0`` (a Wednesday). ``AS_OF`` names the moments the tests judge at.

- a tracking pixel (``web`` / ``Pixel Fired``) fires every hour for 7 days, then stops;
- two campaigns spend 200 a day on days 5-7: ``C-GOOD`` gets a purchase, ``C-WASTE`` none;
- 20 people start a checkout every day for 11 days; on days 0-9 half of them complete
  the order an hour later, on day 10 nobody does;
- the ``C-BAND`` video ads get about 100 clicks a day on days 0-14 and 5 on day 15.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa

from omnichannel.identity import resolve
from omnichannel.warehouse import Warehouse
from tests.profiles.support import add_events, add_identities, add_orders

A0 = datetime(2026, 4, 1)
SHOPPERS = [f"f{i}" for i in range(20)]
BAND_CLICKS = [100, 104, 96, 101, 99, 103, 97, 100, 102, 98, 101, 99, 100, 103, 97, 5]
AS_OF = {
    "pixel_quiet": A0 + timedelta(days=7, minutes=30),
    "pixel_fires": A0 + timedelta(days=7, hours=3),
    "spend": A0 + timedelta(days=8),
    "funnel_quiet": A0 + timedelta(days=11),
    "funnel_fires": A0 + timedelta(days=12),
    "band_quiet": A0 + timedelta(days=15),
    "band_fires": A0 + timedelta(days=16),
}


def build_alert_world(wh: Warehouse) -> None:
    add_identities(wh, ["pix", "buyer", *SHOPPERS])
    events = [
        {"user": "pix", "at": A0 + timedelta(hours=h), "event": "Pixel Fired"}
        for h in range(7 * 24)
    ]
    for day in range(11):
        for i, user in enumerate(SHOPPERS):
            start = A0 + timedelta(days=day, hours=10)
            events.append({"user": user, "at": start, "event": "Checkout Started"})
            if day < 10 and i < 10:
                done = start + timedelta(hours=1)
                events.append({"user": user, "at": done, "event": "Order Completed"})
    add_events(wh, events)
    add_orders(
        wh,
        [
            {
                "id": "g1",
                "user": "buyer",
                "day": 36,
                "total": 90,
                "channel": "web",
                "campaign": "C-GOOD",
            }
        ],
    )
    spend_days = [date(2026, 4, 6), date(2026, 4, 7), date(2026, 4, 8)]
    band_days = [date(2026, 4, 1) + timedelta(days=d) for d in range(len(BAND_CLICKS))]
    wh.append(
        "ad_spend",
        pa.table(
            {
                "date": [*spend_days, *spend_days, *band_days],
                "channel": ["display"] * 3 + ["search"] * 3 + ["video"] * len(band_days),
                "campaign_id": ["C-WASTE"] * 3 + ["C-GOOD"] * 3 + ["C-BAND"] * len(band_days),
                "spend": [Decimal("200")] * 6 + [Decimal("0")] * len(band_days),
                "impressions": [1000] * 6 + [10_000] * len(band_days),
                "clicks": [5] * 6 + BAND_CLICKS,
            }
        ),
    )
    resolve(wh, full=True)
