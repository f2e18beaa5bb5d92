"""Update semantics: a re-loaded record with newer content becomes the current version.

On every engine of the matrix: DuckDB writes in one statement, others through Ibis.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from omnichannel.ingest.connectors import IngestReport, ingest_file
from omnichannel.ingest.mapping import load_mapping
from omnichannel.warehouse import Warehouse

HUBSPOT_HEADER = (
    "Record ID,First Name,Last Name,Email,Phone Number,City,Postal Code,Country/Region,"
    "Create Date,Last Modified Date,Lifecycle Stage\n"
)
ORDERS_HEADER = "order_id,ordered_at,total,customer_record_id,email\n"


def _crm(wh: Warehouse, path: Path, *rows: str) -> IngestReport:
    path.write_text(HUBSPOT_HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return ingest_file(
        wh, path, kind="crm", source="hubspot", mapping=load_mapping("hubspot-contacts")
    )


def _orders(wh: Warehouse, path: Path, source: str, *rows: str) -> IngestReport:
    path.write_text(ORDERS_HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return ingest_file(wh, path, kind="orders", source=source)


def _records(wh: Warehouse) -> list[dict[str, object]]:
    return wh.table("customer_records").order_by("record_id").to_pyarrow().to_pylist()  # type: ignore[no-any-return]


def _emails(wh: Warehouse) -> set[str]:
    t = wh.table("identifiers")
    return set(t.filter(t.id_type == "email").id_value.to_pyarrow().to_pylist())


ANN_V1 = "701,Ann,Lee,ann@example.com,,Shanghai,200000,China,2023-11-05 09:12,2024-02-01 10:00,lead"
ANN_V2 = (
    "701,Ann,Wu,ann.wu@example.com,,Beijing,100000,China,2023-11-05 09:12,2024-05-01 10:00,lead"
)


def test_a_newer_crm_version_replaces_the_record_and_its_old_email(
    wh: Warehouse, tmp_path: Path
) -> None:
    _crm(wh, tmp_path / "v1.csv", ANN_V1)
    report = _crm(wh, tmp_path / "v2.csv", ANN_V2)
    assert report.updated["customer_records"] == 1
    [ann] = _records(wh)
    assert (ann["last_name"], ann["city"], ann["email"]) == ("Wu", "Beijing", "ann.wu@example.com")
    # Identity reads identifiers: the superseded email no longer links anything.
    assert _emails(wh) == {"ann.wu@example.com"}
    history = wh.table("record_history").to_pyarrow().to_pylist()
    old = [h for h in history if h["table_name"] == "customer_records"]
    assert len(old) == 1 and old[0]["reason"] == "superseded"
    assert json.loads(old[0]["row"])["last_name"] == "Lee"
    assert json.loads(old[0]["record_key"]) == {"source": "hubspot", "record_id": "701"}
    assert {
        json.loads(h["row"])["id_value"] for h in history if h["table_name"] == "identifiers"
    } == {"ann@example.com"}


def test_an_older_version_arriving_late_is_kept_in_history_only(
    wh: Warehouse, tmp_path: Path
) -> None:
    _crm(wh, tmp_path / "v2.csv", ANN_V2)
    report = _crm(wh, tmp_path / "v1.csv", ANN_V1)
    assert report.older["customer_records"] == 1
    _crm(wh, tmp_path / "v1-again.csv", ANN_V1)  # the same late version twice: kept once
    [ann] = _records(wh)
    assert ann["last_name"] == "Wu"
    assert _emails(wh) == {"ann.wu@example.com"}
    history = wh.table("record_history").to_pyarrow().to_pylist()
    assert [(h["table_name"], h["reason"]) for h in history] == [
        ("customer_records", "older_on_arrival")
    ]


def test_reloading_an_identical_export_changes_nothing(wh: Warehouse, tmp_path: Path) -> None:
    _crm(wh, tmp_path / "a.csv", ANN_V1)
    before = wh.counts()
    again = _crm(wh, tmp_path / "b.csv", ANN_V1)
    assert wh.counts() == before
    assert again.updated["customer_records"] == 0 and wh.counts()["record_history"] == 0


def test_a_re_exported_order_with_a_new_total_is_the_current_order(
    wh: Warehouse, tmp_path: Path
) -> None:
    _orders(wh, tmp_path / "o1.csv", "shop", "A1,2024-03-01 10:00,100,c1,a@example.com")
    _orders(wh, tmp_path / "o2.csv", "shop", "A1,2024-03-01 10:00,555,c1,a@example.com")
    orders = wh.table("orders").to_pyarrow().to_pylist()
    assert [(o["order_id"], o["total"]) for o in orders] == [("A1", Decimal("555.00"))]
    history = wh.table("record_history").to_pyarrow().to_pylist()
    assert json.loads(history[0]["row"])["total"] == 100


def test_two_sources_with_the_same_order_number_do_not_collide(
    wh: Warehouse, tmp_path: Path
) -> None:
    _orders(wh, tmp_path / "web.csv", "web-shop", "1001,2024-03-01 10:00,100,c1,a@example.com")
    _orders(wh, tmp_path / "tmall.csv", "tmall", "1001,2024-03-02 10:00,70,c9,b@example.com")
    orders = wh.table("orders").order_by("source").to_pyarrow().to_pylist()
    assert [(o["source"], o["order_id"], o["total"]) for o in orders] == [
        ("tmall", "1001", Decimal("70.00")),
        ("web-shop", "1001", Decimal("100.00")),
    ]


def test_a_superseded_order_gets_the_new_versions_lines(wh: Warehouse, tmp_path: Path) -> None:
    mapping = {
        "kind": "orders",
        "fields": {"order_id": "id", "ordered_at": "at"},
        "lines": {"sku": "sku", "quantity": "qty", "unit_price": "price"},
    }
    path = tmp_path / "m.yaml"
    path.write_text(json.dumps(mapping), encoding="utf-8")
    first = tmp_path / "first.csv"
    first.write_text("id,at,sku,qty,price\nA,2024-03-01,S1,1,10\nA,2024-03-01,S2,1,20\n")
    ingest_file(wh, first, kind="orders", source="s", mapping=load_mapping(path))
    second = tmp_path / "second.csv"
    second.write_text("id,at,sku,qty,price\nA,2024-03-01,S3,2,5\n")
    ingest_file(wh, second, kind="orders", source="s", mapping=load_mapping(path))
    lines = wh.table("order_lines").to_pyarrow().to_pylist()
    assert [(ln["source"], ln["line_number"], ln["sku"]) for ln in lines] == [("s", 1, "S3")]
    [order] = wh.table("orders").to_pyarrow().to_pylist()
    assert order["total"] == Decimal("10.00")


def test_every_fact_table_records_when_its_rows_arrived(wh: Warehouse, tmp_path: Path) -> None:
    _crm(wh, tmp_path / "v1.csv", ANN_V1)
    _orders(wh, tmp_path / "o1.csv", "shop", "A1,2024-03-01 10:00,100,c1,a@example.com")
    for table in ("customer_records", "identifiers", "orders"):
        t = wh.table(table)
        assert t.count().to_pyarrow().as_py() > 0
        assert t.loaded_at.isnull().sum().to_pyarrow().as_py() == 0, table
