"""Issue #7 as a new user met it: bad optional fields, far-future dates, dead letters, files.

On every engine of the matrix.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from omnichannel.errors import ValidationError
from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.deadletter import DeadLetter, reject
from omnichannel.ingest.mapping import MappingError, load_mapping, parse_mapping
from omnichannel.ingest.quality import report
from omnichannel.ingest.replay import count_pending, pending
from omnichannel.ingest.stats import event_stats
from omnichannel.warehouse import Warehouse

FEBRL_HEADER = "rec_id, given_name, surname, date_of_birth, state\n"


def _febrl(tmp_path: Path, body: str, extra: dict[str, object] | None = None) -> Path:
    data = tmp_path / "febrl.csv"
    data.write_text(FEBRL_HEADER + body, encoding="utf-8")
    mapping = {
        "name": "febrl",
        "kind": "crm",
        # Trimmed header names: no quoting of FEBRL's leading spaces.
        "fields": {
            "record_id": "rec_id",
            "first_name": "given_name",
            "last_name": "surname",
            "birth_date": {"column": "date_of_birth", "format": "%Y%m%d", **(extra or {})},
            "region": "state",
        },
    }
    (tmp_path / "febrl.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return data


def test_a_mistyped_birth_date_keeps_the_record_and_flags_the_field(
    wh: Warehouse, tmp_path: Path
) -> None:
    data = _febrl(
        tmp_path, "rec-1-org, ann, lee, 19450493, nsw\nrec-2-org, bob, wu, 19600101, vic\n"
    )
    result = ingest_file(
        wh, data, kind="crm", source="febrl", mapping=load_mapping(tmp_path / "febrl.yaml")
    )
    assert result.rejected == 0 and result.fields_nulled == 1
    people = {r["record_id"]: r for r in wh.table("customer_records").to_pyarrow().to_pylist()}
    assert people["rec-1-org"]["birth_date"] is None and people["rec-1-org"]["last_name"] == "lee"
    assert people["rec-1-org"]["region"] == "nsw"
    assert str(people["rec-2-org"]["birth_date"]) == "1960-01-01"
    [flag] = pending(wh, include_accepted=True)
    assert flag["status"] == "field_nulled" and flag["value"] == "19450493"
    assert flag["field"] == "fields.birth_date (column 'date_of_birth')"
    assert count_pending(wh) == 0  # a flag is not a record waiting to be loaded


def test_a_field_can_say_reject(wh: Warehouse, tmp_path: Path) -> None:
    data = _febrl(tmp_path, "rec-1-org, ann, lee, 19450493, nsw\n", {"on_invalid": "reject"})
    result = ingest_file(
        wh, data, kind="crm", source="febrl", mapping=load_mapping(tmp_path / "febrl.yaml")
    )
    assert result.rejected == 1 and wh.counts()["customer_records"] == 0


def test_on_invalid_accepts_only_reject_or_null() -> None:
    with pytest.raises(MappingError) as raised:
        parse_mapping(
            {
                "kind": "crm",
                "fields": {"record_id": "id", "email": {"column": "e", "on_invalid": "x"}},
            }
        )
    assert "fields.email.on_invalid" in str(raised.value) and "reject or null" in str(raised.value)


def _orders(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("order_id,ordered_at,total,email\n" + body, encoding="utf-8")
    return path


def test_an_order_in_2099_is_refused_and_never_becomes_now(wh: Warehouse, tmp_path: Path) -> None:
    path = _orders(tmp_path, "o.csv", "A1,2099-01-01 10:00,100,a@example.com\nA2,2024-01-01,5,\n")
    result = ingest_file(wh, path, kind="orders", source="shop")
    assert result.rejected == 1
    latest = wh.table("orders").ordered_at.max().to_pyarrow().as_py()
    assert latest < datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    [letter] = pending(wh)
    assert letter["reason_code"] == "time_out_of_bounds" and "2099" in letter["value"]


def test_the_same_rows_under_another_file_name_are_one_dead_letter(
    wh: Warehouse, tmp_path: Path
) -> None:
    body = "A1,not a date,100,\nA2,2024-01-01,5,\n"
    for name in ("a.csv", "b.csv", "c.csv"):
        ingest_file(wh, _orders(tmp_path, name, body), kind="orders", source="shop")
    assert count_pending(wh) == 1


def test_pending_letters_newest_first_with_the_total(wh: Warehouse, tmp_path: Path) -> None:
    ingest_file(wh, _orders(tmp_path, "old.csv", "A1,bad,1,\n"), kind="orders", source="shop")
    ingest_file(
        wh, _orders(tmp_path, "new.csv", "B1,bad,1,\nB2,bad,2,\n"), kind="orders", source="shop"
    )
    newest = pending(wh, limit=2)
    assert [r["origin"].rsplit("/", 1)[1] for r in newest] == ["new.csv:row 1", "new.csv:row 2"]
    assert count_pending(wh) == 3
    # Letters of one cause share one code, whatever their value or file.
    assert {r["reason_code"] for r in pending(wh)} == {"invalid_value"}


def test_a_row_with_the_wrong_number_of_cells_names_its_row(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text('record_id,note\n1,"two\nlines"\n2,x,extra\n3,ok\n', encoding="utf-8")
    result = ingest_file(wh, path, kind="crm", source="legacy")
    assert result.rejected == 1
    [letter] = pending(wh)
    assert letter["origin"].endswith(":row 2") and letter["reason_code"] == "wrong_cell_count"
    assert wh.counts()["customer_records"] == 2


def test_parquet_format_on_a_csv_and_an_unknown_format_are_clear_errors(
    wh: Warehouse, tmp_path: Path
) -> None:
    path = _orders(tmp_path, "o.csv", "A1,2024-01-01,1,\n")
    with pytest.raises(ValidationError) as parquet:
        ingest_file(wh, path, kind="orders", source="shop", fmt="parquet")
    assert "a Parquet file" in str(parquet.value)
    with pytest.raises(ValidationError) as xml:
        ingest_file(wh, path, kind="orders", source="shop", fmt="xml")
    assert "xml" in str(xml.value) and "csv, jsonl, parquet" in str(xml.value)


def test_every_missing_column_is_named(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("Record ID,Email\n1,a@example.com\n", encoding="utf-8")
    with pytest.raises(MappingError) as raised:
        ingest_file(wh, path, kind="crm", source="hub", mapping=load_mapping("hubspot-contacts"))
    message = str(raised.value)
    for column in ("'First Name'", "'Last Name'", "'Lifecycle Stage'"):
        assert column in message


def test_source_names_are_checked(wh: Warehouse, tmp_path: Path) -> None:
    path = _orders(tmp_path, "o.csv", "A1,2024-01-01,1,\n")
    with pytest.raises(ValidationError) as raised:
        ingest_file(wh, path, kind="orders", source="bad name/with slash")
    assert "'bad name/with slash'" in str(raised.value) or "bad name/with slash" in str(
        raised.value
    )


def test_nan_and_infinity_are_not_coordinates(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "stores.csv"
    path.write_text("store_id,latitude,longitude\nS1,NaN,Infinity\nS2,31.2,121.5\n")
    result = ingest_file(wh, path, kind="stores", source="erp")
    assert result.fields_nulled == 2
    stores = {s["store_id"]: s for s in wh.table("stores").to_pyarrow().to_pylist()}
    assert stores["S1"]["latitude"] is None and stores["S2"]["latitude"] == 31.2


def test_returns_and_totals_that_disagree_with_their_lines_are_reported(
    wh: Warehouse, tmp_path: Path
) -> None:
    mapping = parse_mapping(
        {
            "kind": "orders",
            "fields": {"order_id": "id", "ordered_at": "at", "total": "total", "shipping": "ship"},
            "lines": {"sku": "sku", "quantity": "qty", "unit_price": "price"},
        }
    )
    path = tmp_path / "o.csv"
    path.write_text(
        "id,at,total,ship,sku,qty,price\n"
        "A,2024-03-01,100,,S1,1,1.00\n"  # lines sum to 1.00
        "B,2024-03-01,-20,,S2,-1,20\n"  # a return
        "C,2024-03-01,30,,S3,3,10\n"
        "D,2024-03-01,35,5,S4,3,10\n"  # lines plus shipping
    )
    ingest_file(wh, path, kind="orders", source="shop", mapping=mapping)
    (today,) = report(wh, source="shop")
    assert today["inconsistent_totals"] == 1 and today["returns"] == 1
    totals = {o["order_id"]: o["total"] for o in wh.table("orders").to_pyarrow().to_pylist()}
    assert totals["B"] == Decimal("-20.00")


def test_letters_of_one_cause_are_one_group_whatever_time_their_reason_names(
    wh: Warehouse,
) -> None:
    letters = [
        DeadLetter(
            source="app",
            kind="event",
            origin=f"POST /v1/batch (batch index {i})",
            payload=f'{{"messageId": "m{i}"}}',
            field="timestamp",
            value=f'"2099-01-0{i + 1}T00:00:00Z"',
            reason="expected a time no later than 1 day after receipt "
            f"(2026-12-01T08:0{i}:00.12345Z); the sender's clock or timestamp is wrong",
        )
        for i in range(3)
    ]
    reject(wh, letters)
    [group] = event_stats(wh)["dead_letters"]["by_source_and_reason"]
    assert group["dead_letters"] == 3 and "2026-12-01" not in group["reason_code"]
