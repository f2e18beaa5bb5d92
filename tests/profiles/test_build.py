"""Profile traits on a hand-made business whose every expected value is known."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from omnichannel.identity import resolve
from omnichannel.profiles.build import build_profiles
from omnichannel.profiles.tags import parse_tags
from omnichannel.profiles.traits.consent import consent_table
from omnichannel.warehouse import Warehouse
from tests.profiles.support import (
    AS_OF,
    T0,
    add_events,
    add_identities,
    add_orders,
    profiles_by_user,
)

BUYERS = [f"b{i}" for i in range(10)]


def _orders() -> list[dict[str, Any]]:
    """Buyer b<i> has i+1 orders of 100 on distinct days, the last on day 10*i."""
    orders = []
    for i, user in enumerate(BUYERS):
        for j in range(i + 1):
            order: dict[str, Any] = {"id": f"o{i}_{j}", "user": user, "day": 10 * i - j}
            order["total"] = 100
            order["channel"] = "web"
            if user == "b1":
                order["channel"] = "store"  # store only
            if user == "b3" and j % 2 == 0:
                order.update(channel="store", total=120)  # 2 store (240) + 2 web (200)
            if user == "b5" and j < 4:
                order["channel"] = "app"  # 4 app, 2 web
            if user == "b6" and j == 0:
                order["campaign"] = "CMP-2"
            orders.append(order)
    return orders


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour, minutes=minute)


def _events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    # n0 never buys: 5 app screens at 13:00 UTC (21:00 in Shanghai, the default zone), 2 web.
    events += [
        {"user": "n0", "at": _at(d, 13), "channel": "app", "device": "ios", "os": "iOS"}
        for d in range(5)
    ]
    events += [{"user": "n0", "at": _at(d, 2), "channel": "web"} for d in range(2)]
    # b9 in Paris: 20:xx local both sides of the DST change (UTC+1 in March, +2 in April).
    paris = "Europe/Paris"
    events += [{"user": "b9", "at": _at(d, 19, 30), "tz": paris} for d in (7, 8)]
    events += [{"user": "b9", "at": _at(d, 18, 30), "tz": paris} for d in (40, 41)]
    events += [{"user": "b9", "at": _at(d, 12), "tz": paris} for d in (50,)]
    # b8 reads reviews: 3 reviews, 1 photo gallery, 1 video known only by its content id.
    content = ["review", "review", "review", "photo_gallery", None]
    for k, kind in enumerate(content):
        props = {"content_id": f"CNT-{k}"} | ({"content_type": kind} if kind else {})
        events.append(
            {"user": "b8", "at": _at(k, 9), "event": "Content Viewed", "props": json.dumps(props)}
        )
    # b7 looks at shoes three times but bought tea (a purchase weighs 5 views).
    events += [
        {
            "user": "b7",
            "at": _at(k, 9),
            "event": "Product Viewed",
            "props": json.dumps({"product_id": "SHOE", "category": "shoes"}),
        }
        for k in range(3)
    ]
    # b6 clicked a spring campaign after its campaign order (day 60).
    events.append({"user": "b6", "at": _at(70, 9), "campaign": "Spring Sale"})
    return events


@pytest.fixture
def built(warehouse_url: str) -> Any:
    with Warehouse.open(warehouse_url) as wh:
        add_identities(wh, [*BUYERS, "n0"])
        add_orders(wh, _orders())
        add_events(wh, _events())
        wh.append(
            "content_items",
            pa.table({"content_id": ["CNT-4"], "content_type": ["video"]}),
        )
        wh.append(
            "products",
            pa.table({"product_id": ["TEA", "SHOE"], "category": ["tea", "shoes"]}),
        )
        wh.append(
            "order_lines",
            pa.table(
                {
                    "source": ["web"],
                    "order_id": ["o7_0"],
                    "line_number": [1],
                    "product_id": ["TEA"],
                    "quantity": [1],
                    "line_total": [Decimal("100")],
                }
            ),
        )
        wh.append(
            "campaigns",
            pa.table({"campaign_id": ["CMP-1", "CMP-2"], "name": ["Spring Sale", "Summer"]}),
        )
        resolve(wh, full=True)
        b0 = _profile_of(wh, "b0")
        consents = consent_table(
            [
                _consent("user_id", "b0", "email", "granted", 5),
                _consent("user_id", "b0", "sms", "unsubscribed", 5),
                # The profile's own decision wins over the identifier's, though older.
                _consent("profile", b0, "email", "denied", 1),
            ]
        )
        report = build_profiles(wh, as_of=AS_OF, consents=consents)
        yield wh, report, profiles_by_user(wh)


def _consent(kind: str, value: str, channel: str, status: str, day: int) -> dict[str, Any]:
    return {
        "subject_type": kind,
        "subject_value": value,
        "channel": channel,
        "status": status,
        "updated_at": _at(day, 0),
    }


def _profile_of(wh: Warehouse, user: str) -> str:
    pi = wh.table("profile_identifiers")
    rows = pi.filter(pi.id_type == "user_id", pi.id_value == user).profile_id.to_pyarrow()
    return str(rows.to_pylist()[0])


def test_one_profile_per_person(built: Any) -> None:
    _, report, rows = built
    assert report.status == "built"
    assert report.profiles == 11
    assert set(rows) == {*BUYERS, "n0"}


def test_rfm_scores_and_segment_on_a_known_case(built: Any) -> None:
    _, _, rows = built
    # Recency, frequency and revenue all rise with i (b3's revenue 440 sits between b2 and
    # b4), so each buyer's percent rank is i/9 on all three and the scores follow it.
    expected_score = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    for i, user in enumerate(BUYERS):
        row = rows[user]
        assert (row["r_score"], row["f_score"], row["m_score"]) == (expected_score[i],) * 3, user
        assert row["orders"] == i + 1
        assert row["recency_days"] == 99 - 10 * i  # last order at 10:00 on day 10*i
    segments = {u: rows[u]["rfm_segment"] for u in BUYERS}
    assert segments["b9"] == "champions"
    assert segments["b8"] == "champions"
    assert segments["b6"] == "loyal customers"
    assert segments["b4"] == "need attention"
    assert segments["b0"] == "hibernating"
    assert rows["n0"]["rfm_segment"] == "prospect"
    assert rows["n0"]["r_score"] is None
    assert rows["n0"]["orders"] == 0


def test_online_offline_split_aov_and_interval(built: Any) -> None:
    _, _, rows = built
    b3 = rows["b3"]
    assert (b3["orders_online"], b3["orders_offline"]) == (2, 2)
    assert (b3["revenue_online"], b3["revenue_offline"]) == (Decimal("200"), Decimal("240"))
    assert b3["revenue"] == Decimal("440")
    assert b3["average_order_value"] == pytest.approx(110.0)
    # 4 orders on days 27..30: 3 days over 3 intervals.
    assert b3["mean_purchase_interval_days"] == pytest.approx(1.0)
    assert rows["b0"]["mean_purchase_interval_days"] is None
    assert rows["b1"]["orders_online"] == 0 and rows["b1"]["orders_offline"] == 2


def test_preferred_channels(built: Any) -> None:
    _, _, rows = built
    assert rows["b5"]["preferred_channel_purchase"] == "app"
    assert rows["b1"]["preferred_channel_purchase"] == "store"
    assert rows["n0"]["preferred_channel_engagement"] == "app"
    assert rows["n0"]["preferred_channel_purchase"] is None
    assert rows["n0"]["device_type"] == "ios" and rows["n0"]["os_name"] == "iOS"
    assert json.loads(rows["n0"]["channels"]) == ["app", "web"]
    assert "crm" in json.loads(rows["b1"]["source_systems"])


def test_peak_hour_in_local_time(built: Any) -> None:
    _, _, rows = built
    # No context.timezone: the default Asia/Shanghai (UTC+8) turns 13:00 UTC into 21:00.
    assert rows["n0"]["peak_hour"] == 21
    # Paris: 19:30 UTC in March and 18:30 UTC in April are both 20:30 local.
    assert rows["b9"]["peak_hour"] == 20
    histogram = json.loads(rows["n0"]["active_hours"])
    assert len(histogram) == 168 and sum(histogram) == 7
    # 2026-03-02 is a Monday: day 0 at 21:00 local is bucket 21.
    assert histogram[21] == 1
    assert histogram[24 + 21] == 1


def test_affinities(built: Any) -> None:
    _, _, rows = built
    b8 = rows["b8"]
    assert b8["top_content_type"] == "review"
    scores = json.loads(b8["content_type_affinity"])
    assert scores == {"review": 0.6, "photo_gallery": 0.2, "video": 0.2}
    b7 = rows["b7"]
    assert b7["top_category"] == "tea"
    assert json.loads(b7["category_affinity"]) == {"tea": 0.625, "shoes": 0.375}


def test_last_campaign_and_consent(built: Any) -> None:
    _, _, rows = built
    b6 = rows["b6"]
    assert (b6["last_campaign"], b6["last_campaign_id"], b6["last_campaign_via"]) == (
        "Spring Sale",
        "CMP-1",
        "event",
    )
    assert rows["b5"]["last_campaign"] is None
    assert json.loads(rows["b0"]["consent"]) == {"email": "denied", "sms": "unsubscribed"}
    assert rows["b1"]["consent"] is None


def test_default_tags_fire_on_matching_profiles(built: Any) -> None:
    _, report, rows = built
    tagged = {u: set(json.loads(r["tags"])) for u, r in rows.items()}
    assert {u for u, t in tagged.items() if "store only" in t} == {"b1"}
    assert {u for u, t in tagged.items() if "omnichannel buyer" in t} == {"b3"}
    assert {u for u, t in tagged.items() if "app first" in t} == {"n0"}
    assert {u for u, t in tagged.items() if "champion" in t} == {"b8", "b9"}
    assert report.tags["store only"] == 1


def test_custom_tags_fire_exactly(built: Any) -> None:
    wh, _, _ = built
    tags = parse_tags(
        """
tags:
  - name: big spenders
    all: [{field: revenue, op: ">=", value: 800}]
  - name: top revenue
    all: [{field: revenue, op: top_percent, value: 10}]
  - name: never web
    all:
      - {not: {field: channels, op: contains, value: web}}
      - {field: orders, op: ">", value: 0}
  - name: app or store
    any:
      - {field: preferred_channel_purchase, op: in, value: [app, store]}
      - {all: [{field: orders, op: "=", value: 0}, {field: events, op: ">", value: 3}]}
"""
    )
    build_profiles(wh, as_of=AS_OF, tags=tags)
    rows = profiles_by_user(wh)

    def who(name: str) -> set[str]:
        return {u for u, r in rows.items() if name in json.loads(r["tags"])}

    assert who("big spenders") == {"b7", "b8", "b9"}
    # 11 profiles: b9 alone is within the top 10 % (1/11); b8 would be 2/11.
    assert who("top revenue") == {"b9"}
    assert who("never web") == {"b1"}
    # b3 bought twice in store and twice online: the tie goes to store's larger revenue.
    assert who("app or store") == {"b1", "b3", "b5", "n0"}


def test_unchanged_inputs_skip_the_build(built: Any) -> None:
    wh, _, _ = built
    # The fixture's build had consent rows; without them the inputs differ once.
    assert build_profiles(wh, as_of=AS_OF).status == "built"
    again = build_profiles(wh, as_of=AS_OF)
    assert again.status == "unchanged"
    assert again.profiles == 11
    add_orders(wh, [{"id": "late", "user": "b0", "day": 99, "total": 50, "channel": "web"}])
    resolve(wh)
    rebuilt = build_profiles(wh, as_of=AS_OF)
    assert rebuilt.status == "built"
    assert profiles_by_user(wh)["b0"]["orders"] == 2


def test_an_order_dated_2099_never_becomes_now(tmp_path: Path) -> None:
    """Recency is measured from the data's end, capped at the clock plus a day."""
    with Warehouse.open(f"duckdb:///{tmp_path / 'w.duckdb'}") as wh:
        add_identities(wh, ["u1", "u2"])
        far = (datetime(2099, 1, 1) - T0).days
        add_orders(
            wh,
            [
                {"id": "o1", "user": "u1", "day": 1, "total": 10, "channel": "web"},
                {"id": "o2", "user": "u2", "day": far, "total": 10, "channel": "web"},
            ],
        )
        resolve(wh, full=True)
        report = build_profiles(wh)
    assert report.as_of is not None
    assert report.as_of <= datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1, minutes=1)
