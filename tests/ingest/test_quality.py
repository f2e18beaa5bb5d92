"""The data-quality report's figures, from real loads into DuckDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from omnichannel.ingest.quality import report
from omnichannel.platform import Platform
from omnichannel.warehouse import Warehouse
from tests.cli.run import omni
from tests.ingest.conftest import load_shopify_sample

DATA = Path(__file__).parent / "data"


def test_volumes_rejects_and_null_rates(wh: Warehouse) -> None:
    load_shopify_sample(wh)
    (today,) = report(wh, source="shopify")
    # Rows and their rejects count on the day they arrived, whenever the orders happened.
    assert today["day"] == datetime.now(UTC).date()
    assert today["volumes"] == {"orders": 3, "customer_records": 3}
    assert today["null_rate"]["orders.store_id"] == 1.0
    assert today["null_rate"]["orders.total"] == 0.0
    assert today["rejected"] == 5 and today["reject_rate"] == round(5 / 11, 4)
    assert today["fields_nulled"] == 2  # #1004's email, as customer email and identifier
    assert today["late_rows"]["orders"] == 3  # 2024 orders loaded today


def test_late_and_future_events(wh: Warehouse) -> None:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    stamps = [
        now - timedelta(minutes=1),
        now - timedelta(days=3),
        now + timedelta(hours=2),
        now - timedelta(hours=1),
    ]
    wh.append(
        "events",
        pa.table(
            {
                "message_id": [f"m{i}" for i in range(4)],
                "type": ["track"] * 4,
                "event": ["Viewed", None, "Viewed", "Viewed"],
                "source": ["app"] * 4,
                "timestamp": stamps,
                "received_at": [now] * 4,
            }
        ),
    )
    (row,) = report(wh, source="app", days=1, today=now.date())
    assert row["volumes"] == {"events": 4}
    assert row["late_events"] == 1 and row["future_events"] == 1
    assert row["null_rate"]["events.event"] == 0.25
    assert report(wh, source="nobody") == []


def test_identify_traits_that_are_not_identifiers_are_counted(wh: Warehouse) -> None:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    traits = ['{"email": "not-an-email", "phone": "abc"}', '{"email": "ann@example.com"}']
    wh.append(
        "events",
        pa.table(
            {
                "message_id": ["i1", "i2"],
                "type": ["identify"] * 2,
                "source": ["app"] * 2,
                "timestamp": [now] * 2,
                "received_at": [now] * 2,
                "traits": traits,
            }
        ),
    )
    (row,) = report(wh, source="app")
    assert row["invalid_identifiers"] == 1


def _table_rows(output: str, title: str) -> list[dict[str, str]]:
    """The rows of one Rich table printed by ``omni``, as dicts keyed by its header."""
    lines = iter(output.splitlines())
    next(line for line in lines if line.strip() == title)
    cells = []
    for line in lines:
        line = line.strip()
        if line.startswith("└"):  # the table's bottom border
            break
        if line.startswith(("┃", "│")):
            cells.append([c.strip() for c in line.strip("┃│").replace("┃", "│").split("│")])
    header, *body = cells
    return [dict(zip(header, row, strict=True)) for row in body]


def test_the_printed_report_shows_every_figure_of_the_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Platform.open(home) as platform, platform.warehouse.writer() as writer:
        load_shopify_sample(writer)
    printed = omni("quality", "--source", "shopify", home=home).stdout
    (row,) = json.loads(omni("quality", "--source", "shopify", "--json", home=home).stdout)
    (main,) = _table_rows(printed, "Data quality per source and day")
    assert main["rejected"] == "5" and main["fields nulled"] == str(row["fields_nulled"]) == "2"
    (looks,) = _table_rows(printed, "Rows to look at per source and day")
    assert looks["late orders"] == str(row["late_rows"]["orders"]) == "3"
    assert looks["future orders"] == "0" and looks["invalid identifiers"] == "0"
    assert looks["inconsistent totals"] == str(row["inconsistent_totals"]) == "1"
    assert looks["returns"] == str(row["returns"])
    empty = {
        r["field"]: r["null rate"]
        for r in _table_rows(printed, "Share of empty values per source and day (fields with any)")
    }
    assert empty["orders.store_id"] == "100.0%" and empty["customer_records.email"] == "33.3%"
    assert "orders.total" not in empty  # a field with no empty value is left out
