"""Dead letters: listed while pending, replayed after a mapping is fixed, history kept."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml

from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.deadletter import DeadLetter, reject
from omnichannel.ingest.mapping import Mapping, load_mapping, parse_mapping
from omnichannel.ingest.replay import pending, replay
from omnichannel.ingest.segment import Limits
from omnichannel.warehouse import Warehouse
from tests.ingest.conftest import load_shopify_sample

DATA = Path(__file__).parent / "data"


def fixed_shopify() -> Mapping:
    raw = yaml.safe_load(load_mapping("shopify-orders").to_yaml())
    raw["fields"]["currency"] = {"column": "Currency", "map": {"RMB": "CNY"}}
    return parse_mapping(raw)


def test_replay_after_fixing_the_mapping(wh: Warehouse) -> None:
    load_shopify_sample(wh)
    assert len(pending(wh)) == 5  # #1004's nulled email is a flag, not a pending record
    fixed = fixed_shopify()
    report = replay(wh, mapping_for=lambda source, kind: fixed)
    assert report.accepted == 1 and report.rejected == 4
    order = wh.table("orders").filter(wh.table("orders").order_id == "#1005").to_pyarrow()
    assert order.num_rows == 1
    assert order.column("currency")[0].as_py() == "CNY"
    assert order.column("total")[0].as_py() == Decimal("80.00")
    still = pending(wh)
    assert len(still) == 4 and all(r["attempts"] == 1 for r in still)
    assert "#1005" not in "".join(r["payload"] for r in still)
    outcomes = wh.table("dead_letter_replays").to_pyarrow().column("outcome").to_pylist()
    assert sorted(outcomes) == ["accepted"] + ["rejected"] * 4
    everything = pending(wh, include_accepted=True)
    assert sorted(r["status"] for r in everything) == (
        ["accepted"] + ["field_nulled"] * 2 + ["pending"] * 4
    )
    # A second replay retries only what is still pending and loads nothing twice.
    again = replay(wh, mapping_for=lambda source, kind: fixed)
    assert again.accepted == 0 and again.rejected == 4
    assert wh.table("orders").count().to_pyarrow().as_py() == 4


def test_replay_rebuilds_a_whole_order_with_its_line_numbers(wh: Warehouse) -> None:
    load_shopify_sample(wh)
    raw = yaml.safe_load(fixed_shopify().to_yaml())
    raw["lines"]["unit_price"] = {
        "column": "Lineitem price",
        "default": "30.00",
        "map": {"abc": "30.00"},
    }
    mapping = parse_mapping(raw)
    replay(wh, mapping_for=lambda source, kind: mapping)
    lines = wh.table("order_lines")
    got = lines.filter(lines.order_id == "#1003").order_by("line_number").to_pyarrow()
    assert got.column("sku").to_pylist() == ["SOCK-01", "SOCK-02", "SOCK-03"]
    assert got.column("line_number").to_pylist() == [1, 2, 3]


def test_replay_of_undecodable_rows_with_the_right_encoding(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_bytes(b"record_id,first_name\n1,Ann\n" + "2,王芳\n".encode("gbk"))
    ingest_file(wh, path, kind="crm", source="legacy")
    gbk = parse_mapping(
        {
            "kind": "crm",
            "encoding": "gbk",
            "fields": {"record_id": "record_id", "first_name": "first_name"},
        }
    )
    report = replay(wh, mapping_for=lambda source, kind: gbk)
    assert report.accepted == 1
    names = wh.table("customer_records").to_pyarrow().column("first_name").to_pylist()
    assert sorted(names) == ["Ann", "王芳"]


def test_groups_without_a_mapping_are_left_pending(wh: Warehouse) -> None:
    load_shopify_sample(wh)
    report = replay(wh, mapping_for=lambda source, kind: None)
    assert report.groups[0]["skipped"] and len(pending(wh, source="shopify")) == 5
    assert pending(wh, source="elsewhere") == []


def test_collector_letters_replay_through_the_collectors_checks(wh: Warehouse) -> None:
    received = datetime(2026, 3, 1, 12, 0)
    ahead = {
        "type": "track",
        "event": "Viewed",
        "messageId": "late-clock",
        "userId": "u1",
        "timestamp": "2026-03-04T12:00:00Z",  # 3 days after receipt: refused at 1 day
    }
    anonymous = {"type": "track", "event": "Viewed", "messageId": "nobody"}
    reject(
        wh,
        [
            DeadLetter(
                source="app",
                kind="event",
                origin="POST /v1/track",
                payload=json.dumps(call),
                field="timestamp",
                value="…",
                reason="refused by the collector",
                received_at=received,
            )
            for call in (ahead, anonymous)
        ],
    )
    report = replay(
        wh, mapping_for=lambda source, kind: None, limits=Limits(max_future=timedelta(days=7))
    )
    assert report.accepted == 1 and report.rejected == 1
    assert report.groups[0]["mapping"] == "segment-spec"
    events = wh.table("events").to_pyarrow().to_pylist()
    assert [(e["message_id"], e["received_at"]) for e in events] == [("late-clock", received)]
    # Numbered like every stored event, so durable consumers (read after a load_seq) see it.
    assert events[0]["load_seq"] == 1
    [still] = pending(wh)
    assert still["attempts"] == 1 and "nobody" in still["payload"]
