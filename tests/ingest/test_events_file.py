"""Loading a Segment-spec events file: the collector's rules, dead letters, idempotent.

On DuckDB and PostgreSQL (``wh`` in conftest): on DuckDB the rows never leave the
engine; elsewhere a scratch DuckDB checks them and the warehouse stores the new ones.
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from omnichannel.errors import ValidationError
from omnichannel.ingest.events_file import load_events_file
from omnichannel.ingest.segment import Limits, parse_calls
from omnichannel.warehouse import Warehouse

NOW = datetime(2025, 6, 1, 12, 0, 0)


def rows(wh: Warehouse, table: str) -> list[dict[str, Any]]:
    return wh.con.sql(f"SELECT * FROM {table} ORDER BY 1").to_pyarrow().to_pylist()  # type: ignore[no-any-return]


GOOD = [
    {
        "type": "track",
        "userId": "u1",
        "event": "Order Completed",
        "messageId": "m1",
        "properties": {"total": 10},
        "timestamp": "2025-05-31T10:00:00.000Z",
        "originalTimestamp": "2025-05-31T09:59:00.000Z",
        "receivedAt": "2025-05-31T10:00:02Z",
        "sentAt": "2025-05-31T09:59:30Z",
        "context": {
            "ip": "198.51.100.7",
            "campaign": {"name": "618"},
            "library": {"name": "analytics.js"},
        },
    },
    {
        "type": "identify",
        "anonymousId": "a1",
        "traits": {"email": "x@example.cn"},
        "messageId": "m2",
    },
    {
        "type": "page",
        "userId": 42,
        "name": "Home",
        "messageId": "m3",
        "timestamp": "2025-05-31T08:00:00Z",
        "sentAt": "2025-05-31T09:00:00Z",
        "receivedAt": "2025-05-31T08:00:00Z",
    },
]
BAD = [
    {"type": "track", "userId": "u", "event": 7},
    {"type": "track", "userId": "u", "event": "E", "properties": ["x"]},
    {"type": "track", "event": "Nobody"},
    {"type": "purchase", "userId": "u"},
    {"type": "track", "userId": "u", "event": "F", "timestamp": "2025-06-05T00:00:00Z"},
    {"type": "track", "userId": "u", "event": "Old", "timestamp": "2015-01-01T00:00:00Z"},
    {"type": "track", "userId": "u", "event": "T", "timestamp": "yesterday"},
]


def write(path: Path, lines: list[bytes]) -> Path:
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_good_lines_are_stored_bad_ones_dead_lettered_and_reloading_adds_nothing(
    wh: Warehouse, tmp_path: Path, name: str
) -> None:
    lines = [json.dumps(c).encode() for c in GOOD + BAD] + [b"{not json", b"\xff\xfe", b""]
    path = write(tmp_path / name, lines)
    result = load_events_file(wh, path, source="archive", received_at=NOW)
    assert (result.lines, result.events_stored, result.rejected) == (12, 3, 9)
    events = {r["message_id"]: r for r in rows(wh, "events")}
    order = events["m1"]
    # An archived Segment row already carries its corrected timestamp: kept as is.
    assert order["timestamp"] == datetime(2025, 5, 31, 10, 0)
    assert order["original_timestamp"] == datetime(2025, 5, 31, 9, 59)
    assert order["received_at"] == datetime(2025, 5, 31, 10, 0, 2)
    assert order["channel"] == "browser" and order["context_campaign_name"] == "618"
    assert json.loads(order["properties"]) == {"total": 10}
    assert events["m2"]["received_at"] == NOW and events["m2"]["timestamp"] == NOW
    # Client-shaped line: the collector's clock-skew correction.
    assert events["m3"]["user_id"] == "42"
    assert events["m3"]["timestamp"] == datetime(2025, 5, 31, 7, 0)

    letters = {int(r["origin"].rsplit(" ", 1)[1]): r for r in rows(wh, "dead_letters")}
    assert sorted(letters) == list(range(4, 13))
    assert (letters[4]["field"], letters[4]["value"]) == ("event", "7")
    assert letters[5]["field"] == "properties" and letters[6]["field"] == "userId"
    assert letters[7]["field"] == "type" and letters[8]["field"] == "timestamp"
    assert "after receipt" in letters[8]["reason"] and "before receipt" in letters[9]["reason"]
    assert letters[10]["field"] == "timestamp" and "ISO-8601" in letters[10]["reason"]
    assert letters[11]["reason"] == "expected a valid JSON document"
    assert letters[12]["payload_encoding"] == "base64"

    again = load_events_file(wh, path, source="archive", received_at=NOW)
    assert (again.events_stored, again.duplicates) == (0, 3)
    assert len(rows(wh, "events")) == 3 and len(rows(wh, "dead_letters")) == 9


def test_file_and_collector_refuse_the_same_calls_for_the_same_reasons(
    wh: Warehouse, tmp_path: Path
) -> None:
    collector = parse_calls(
        {"batch": BAD}, source="s", received_at=NOW, limits=Limits(), path_type=None
    )
    path = write(tmp_path / "bad.jsonl", [json.dumps(c).encode() for c in BAD])
    load_events_file(wh, path, source="s", received_at=NOW)
    from_file = sorted(rows(wh, "dead_letters"), key=lambda r: int(r["origin"].rsplit(" ")[-1]))
    assert [(r.field, r.reason.split(" (")[0].split(";")[0]) for r in collector.refusals] == [
        (r["field"], r["reason"].split(" (")[0].split(";")[0]) for r in from_file
    ]


def test_parquet_exports_load_too(wh: Warehouse, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    table = pa.table(
        {
            "type": ["track", "track"],
            "userId": ["u1", None],
            "event": ["Viewed", "Orphan"],
            "messageId": ["p1", "p2"],
            "timestamp": [(now - timedelta(hours=1)).isoformat()] * 2,
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    result = load_events_file(wh, tmp_path / "e.parquet", source="lake")
    assert (result.events_stored, result.rejected) == (1, 1)
    assert rows(wh, "events")[0]["event"] == "Viewed"


def test_a_parquet_file_is_read_in_blocks_numbered_on_and_deduplicated_across_them(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of 3 rows: a big export streams instead of being held whole in memory.
    monkeypatch.setattr("omnichannel.ingest.events_file.PARQUET_ROWS", 3)
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    ids = ["q1", "q2", "q3", "q4", "q1", "q6", "q7"]  # row 5 repeats row 1, a block before
    users = ["u1", "u2", "u3", "u4", "u5", None, "u7"]  # row 6 names nobody: refused
    table = pa.table({"type": ["track"] * 7, "userId": users, "event": ["Viewed"] * 7,
                      "messageId": ids, "timestamp": [at] * 7})  # fmt: skip
    pq.write_table(table, tmp_path / "big.parquet")
    result = load_events_file(wh, tmp_path / "big.parquet", source="lake")
    assert (result.lines, result.events_stored, result.duplicates, result.rejected) == (7, 5, 1, 1)
    assert [r["message_id"] for r in rows(wh, "events")] == ["q1", "q2", "q3", "q4", "q7"]
    [letter] = rows(wh, "dead_letters")
    assert letter["origin"].endswith("big.parquet line 6")


def test_a_missing_file_is_a_clear_error(wh: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"path=.*nope\.jsonl.*existing JSONL"):
        load_events_file(wh, tmp_path / "nope.jsonl", source="x")


def test_a_line_with_a_nul_byte_is_a_dead_letter_kept_byte_for_byte(
    wh: Warehouse, tmp_path: Path
) -> None:
    # Not JSON (a raw control character in a string); PostgreSQL text cannot hold NUL, so
    # the line is kept as base64 on every engine, and the good line beside it is stored.
    nul = b'{"type":"track","userId":"u1","event":"N\x00ul","messageId":"n1"}'
    good = json.dumps(GOOD[0]).encode()
    path = write(tmp_path / "nul.jsonl", [good, nul])
    result = load_events_file(wh, path, source="archive", received_at=NOW)
    assert (result.events_stored, result.rejected) == (1, 1)
    [letter] = rows(wh, "dead_letters")
    assert letter["payload_encoding"] == "base64"
    assert base64.b64decode(letter["payload"]) == nul
    assert "\x00" not in letter["value"] and "\\u0000" in letter["value"]


def test_a_call_with_a_nul_character_in_a_text_field_is_refused_on_every_engine(
    wh: Warehouse, tmp_path: Path
) -> None:
    call = {"type": "track", "userId": "u1", "event": "N\u0000ul", "messageId": "n1"}
    good = {"type": "track", "userId": "u1", "event": "Kept", "messageId": "n2"}
    path = write(tmp_path / "nul.jsonl", [json.dumps(call).encode(), json.dumps(good).encode()])
    result = load_events_file(wh, path, source="archive", received_at=NOW)
    assert (result.events_stored, result.rejected) == (1, 1)
    assert [r["event"] for r in rows(wh, "events")] == ["Kept"]
    [letter] = rows(wh, "dead_letters")
    assert (letter["field"], letter["value"]) == ("event", '"N\\u0000ul"')
    assert "without the NUL character" in letter["reason"]
