"""File connectors on DuckDB and PostgreSQL, with real-format fixture exports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from omnichannel.errors import ValidationError
from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.mapping import load_mapping
from omnichannel.warehouse import Warehouse
from tests.ingest.conftest import load_shopify_sample

DATA = Path(__file__).parent / "data"


def rows(wh: Warehouse, table: str, order_by: str) -> list[dict[str, object]]:
    t = wh.table(table)
    return t.order_by(order_by).to_pyarrow().to_pylist()  # type: ignore[no-any-return]


def test_shopify_orders_with_several_line_items(wh: Warehouse) -> None:
    report = ingest_file(
        wh,
        DATA / "shopify_orders.csv",
        kind="orders",
        source="shopify",
        mapping=load_mapping("shopify-orders"),
    )
    assert report.rows == 9
    # #1004's customer email is unreadable: the order is kept, the email flagged.
    assert report.written["orders"] == 3 and report.written["order_lines"] == 4
    orders = {o["order_id"]: o for o in rows(wh, "orders", "order_id")}
    ann = orders["#1001"]
    assert ann["total"] == Decimal("310.00") and ann["currency"] == "CNY"
    # 10:15:32 +0800 is 02:15:32 UTC.
    assert ann["ordered_at"] == datetime(2024, 3, 1, 2, 15, 32)
    assert ann["customer_record_id"] == "ann.lee@example.com"
    bob = orders["#1002"]
    assert bob["total"] == Decimal("1050.00") and bob["discount"] == Decimal("105.00")
    assert bob["currency"] == "USD" and bob["coupon"] == "SPRING10"
    lines = rows(wh, "order_lines", "sku")
    belt = next(line for line in lines if line["sku"] == "BELT-01")
    # The second row of #1001 leaves Currency empty; the line takes the order's.
    assert belt["line_number"] == 2 and belt["currency"] == "CNY"
    coat = next(line for line in lines if line["sku"] == "COAT-01")
    assert coat["line_total"] == Decimal("945.00") and coat["currency"] == "USD"
    ids = {
        (i["record_id"], i["id_type"]): i["id_value"] for i in rows(wh, "identifiers", "id_value")
    }
    assert ids[("ann.lee@example.com", "phone")] == "+8613812345678"
    assert ids[("ann.lee@example.com", "email")] == "ann.lee@example.com"
    assert ids[("bob@example.org", "phone")] == "+16502530000"
    people = {c["record_id"]: c for c in rows(wh, "customer_records", "record_id")}
    assert people["bob@example.org"]["first_name"] == "Bob"
    assert people["bob@example.org"]["last_name"] == "Stone"


def test_bad_rows_become_dead_letters_and_good_rows_load(wh: Warehouse) -> None:
    load_shopify_sample(wh)
    letters = {
        (d["origin"].rsplit(":", 1)[1], d["field"], d["action"]): d
        for d in rows(wh, "dead_letters", "origin")
    }
    assert set(letters) == {
        ("row 4", "fields.order_id", "rejected"),
        ("row 5", "lines.unit_price (column 'Lineitem price')", "rejected"),
        ("row 6", "fields.order_id", "rejected"),
        ("row 7", "customer.email (column 'Email')", "field_nulled"),
        ("row 7", "identifiers.email (column 'Email')", "field_nulled"),
        ("row 8", "fields.currency (column 'Currency')", "rejected"),
        ("row 9", "fields.ordered_at (column 'Created at')", "rejected"),
    }
    letters = {(origin, field): d for (origin, field, _), d in letters.items()}
    currency = letters[("row 8", "fields.currency (column 'Currency')")]
    assert currency["value"] == "RMB" and "ISO 4217" in currency["reason"]
    assert currency["kind"] == "orders" and currency["source"] == "shopify"
    assert '"Name": "#1005"' in currency["payload"]
    assert letters[("row 5", "lines.unit_price (column 'Lineitem price')")]["value"] == "abc"
    assert "row 5 of this order" in letters[("row 4", "fields.order_id")]["reason"]
    assert (
        letters[("row 9", "fields.ordered_at (column 'Created at')")]["value"] == "31/02/2024 10:00"
    )
    # None of the refused orders was partly loaded; #1004 lost only its bad email.
    orders = {o["order_id"]: o for o in rows(wh, "orders", "order_id")}
    assert set(orders) == {"#1001", "#1002", "#1004"}
    assert orders["#1004"]["total"] == Decimal("50.00")
    emails = {i["id_value"] for i in rows(wh, "identifiers", "id_value")}
    assert "not-an-email" not in emails
    assert letters[("row 7", "identifiers.email (column 'Email')")]["reason_code"] == (
        "invalid_identifier"
    )


def test_reloading_the_same_file_adds_nothing(wh: Warehouse) -> None:
    mapping = load_mapping("shopify-orders")
    ingest_file(wh, DATA / "shopify_orders.csv", kind="orders", source="shopify", mapping=mapping)
    before = wh.counts()
    again = ingest_file(
        wh, DATA / "shopify_orders.csv", kind="orders", source="shopify", mapping=mapping
    )
    assert wh.counts() == before
    assert sum(again.written.values()) == 0
    assert again.already_stored["orders"] == 3 and again.already_stored["dead_letters"] == 7


def test_pos_export_with_chinese_headers(wh: Warehouse) -> None:
    report = ingest_file(
        wh,
        DATA / "pos_cn.csv",
        kind="pos",
        source="pos",
        mapping=load_mapping(DATA / "pos_cn.yaml"),
    )
    # T20240301002 has a 7-digit phone: the ticket loads, the phone is flagged.
    assert report.rejected == 0 and report.fields_nulled == 1
    orders = {o["order_id"]: o for o in rows(wh, "orders", "order_id")}
    first = orders["T20240301001"]
    assert first["channel"] == "store" and first["store_id"] == "S001"
    assert first["ordered_at"] == datetime(2024, 3, 1, 10, 30)  # 18:30 Asia/Shanghai
    assert first["total"] == Decimal("211.50")  # the sum of its lines
    ids = {
        (i["record_id"], i["id_type"]): i["id_value"] for i in rows(wh, "identifiers", "id_value")
    }
    assert ids[("T20240301001", "loyalty_card")] == "0001234567"  # leading zeros kept
    assert ids[("T20240301001", "phone")] == "+8613912345678"
    assert ("T20240301003", "phone") not in ids
    assert ("T20240301002", "phone") not in ids and "T20240301002" in orders
    letter = rows(wh, "dead_letters", "origin")[0]
    assert letter["value"] == "1391234" and "phone" in letter["reason"]


def test_google_and_meta_ad_spend(wh: Warehouse) -> None:
    google = ingest_file(
        wh,
        DATA / "google_ads.csv",
        kind="adspend",
        source="google",
        mapping=load_mapping("google-ads"),
    )
    assert google.rejected == 1  # cost "--"
    meta = ingest_file(
        wh,
        DATA / "meta_ads.csv",
        kind="adspend",
        source="meta",
        mapping=load_mapping("meta-ads"),
        currency="USD",
    )
    assert meta.rejected == 0
    spend = {(s["channel"], s["campaign_id"], s["date"]): s for s in rows(wh, "ad_spend", "date")}
    sale = spend[("google_ads", "111222333", date(2024, 3, 1))]
    assert sale["spend"] == Decimal("1234.56") and sale["impressions"] == 12000
    assert sale["campaign_name"] == "Spring Sale - Search"
    look = spend[("meta", "Spring Lookalike", date(2024, 3, 1))]
    assert look["spend"] == Decimal("500.25") and look["clicks"] == 800
    assert look["currency"] == "CNY"  # the mapping's currency beats the installation default
    campaigns = {c["campaign_id"]: c for c in rows(wh, "campaigns", "campaign_id")}
    assert campaigns["Spring Lookalike"]["start_date"] == date(2024, 3, 1)
    assert campaigns["Spring Lookalike"]["end_date"] == date(2024, 3, 2)
    assert campaigns["111222444"]["channel"] == "google_ads"


def test_wechat_followers_jsonl(wh: Warehouse) -> None:
    report = ingest_file(
        wh,
        DATA / "wechat_followers.jsonl",
        kind="social",
        source="wechat",
        mapping=load_mapping("wechat-followers"),
    )
    assert report.rows == 4 and report.rejected == 2  # one line not JSON, one bad time
    events = rows(wh, "events", "timestamp")
    assert [e["event"] for e in events] == ["WeChat Followed", "WeChat Followed"]
    assert events[0]["timestamp"] == datetime(2024, 3, 1, 2, 0)  # epoch 1709258400
    assert events[0]["channel"] == "social" and events[0]["type"] == "track"
    assert '"subscribe_scene":"ADD_SCENE_QR_CODE"' in events[0]["properties"]
    ids = {(i["id_type"], i["id_value"]) for i in rows(wh, "identifiers", "id_value")}
    assert ("wechat_unionid", "o6_bmasdasdsad6_2sgVt7hMZOPfL") in ids
    genders = {c["gender"] for c in rows(wh, "customer_records", "record_id")}
    assert genders == {"male", "female"}
    again = ingest_file(
        wh,
        DATA / "wechat_followers.jsonl",
        kind="social",
        source="wechat",
        mapping=load_mapping("wechat-followers"),
    )
    assert again.written["events"] == 0 and again.written["dead_letters"] == 0


def test_hubspot_contacts_crm(wh: Warehouse) -> None:
    report = ingest_file(
        wh,
        DATA / "hubspot_contacts.csv",
        kind="crm",
        source="hubspot",
        mapping=load_mapping("hubspot-contacts"),
    )
    # Hana's email, Ivan's phone and country ("Russia") are unreadable: kept without them.
    assert report.rejected == 0 and report.fields_nulled == 3
    people = {c["record_id"]: c for c in rows(wh, "customer_records", "record_id")}
    assert set(people) == {"701", "702", "703", "704"}  # 701 twice in the file, stored once
    assert people["703"]["email"] is None and people["703"]["last_name"] == "Sato"
    assert people["701"]["email"] == "ann.lee@example.com"
    assert people["702"]["phone"] == "+442079460018" and people["702"]["country"] == "GB"
    assert people["701"]["country"] == "CN"
    ids = {(i["record_id"], i["id_type"]) for i in rows(wh, "identifiers", "id_value")}
    assert {("701", "email"), ("701", "phone"), ("701", "crm_id")} <= ids


def test_parquet_products_in_canonical_columns(wh: Warehouse) -> None:
    report = ingest_file(wh, DATA / "products.parquet", kind="products", source="erp")
    assert report.written["products"] == 3
    coat = next(p for p in rows(wh, "products", "product_id") if p["product_id"] == "P-COAT")
    assert coat["price"] == Decimal("1050.00") and coat["currency"] == "USD"
    assert coat["created_at"] == datetime(2023, 9, 1, 8)


def test_a_mapped_column_missing_from_the_file_loads_nothing(wh: Warehouse, tmp_path: Path) -> None:
    trimmed = tmp_path / "orders.csv"
    trimmed.write_text("Name,Email,Created at\n#1,a@b.co,2024-03-01 10:00:00 +0800\n")
    with pytest.raises(ValidationError) as caught:
        ingest_file(
            wh, trimmed, kind="orders", source="shopify", mapping=load_mapping("shopify-orders")
        )
    message = str(caught.value)
    assert "fields.status" in message and "'Financial Status'" in message
    assert "Name, Email, Created at" in message
    assert sum(wh.counts().values()) == 0


def test_non_utf8_bytes_are_dead_letters_and_the_rest_loads(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_bytes(
        b"record_id,first_name,email\n1,Ann,ann@example.com\n"
        + "2,王芳,wang@example.com\n".encode("gbk")
        + b"3,Bob,bob@example.com\n"
    )
    report = ingest_file(wh, path, kind="crm", source="legacy")
    assert report.rejected == 1
    assert {c["record_id"] for c in rows(wh, "customer_records", "record_id")} == {"1", "3"}
    letter = rows(wh, "dead_letters", "origin")[0]
    assert letter["field"] == "encoding" and letter["payload_encoding"] == "base64"
    assert "encoding:" in letter["reason"] and letter["origin"].endswith(":row 2")


def test_unknown_extension_names_the_accepted_formats(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ValidationError, match="csv"):
        ingest_file(wh, path, kind="orders", source="x")


def test_events_kind_hands_segment_jsonl_to_the_collector(wh: Warehouse, tmp_path: Path) -> None:
    pytest.importorskip("omnichannel.ingest.events_file")
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"type": "track", "event": "Viewed", "messageId": "e1", "userId": "u1", '
        '"timestamp": "2024-03-01T10:00:00+08:00"}\n'
    )
    report = ingest_file(wh, path, kind="events", source="app")
    assert report.written == {"events": 1}
    again = ingest_file(wh, path, kind="events", source="app")
    assert again.written == {"events": 0}
