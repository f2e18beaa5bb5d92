"""The loader: log -> warehouse, de-duplicated, checkpointed after the write, published once.

On DuckDB and PostgreSQL (``wh`` / ``warehouse_url``): the dedupe and the numbering are
one statement in either engine (``Warehouse.append_new``).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from omnichannel.ingest import loader
from omnichannel.ingest.deadletter import DeadLetter
from omnichannel.ingest.loader import drain, encode_record, load_once
from omnichannel.ingest.log import EventLog
from omnichannel.ingest.segment import Limits, parse_calls
from omnichannel.ingest.stream import EventStream, InProcessStream
from omnichannel.warehouse import Warehouse, open_warehouse

NOW = datetime(2025, 6, 1, 12, 0, 0)


def record(*events: str, source: str = "web", refused: int = 0) -> bytes:
    calls = [{"type": "track", "userId": "u", "event": "E", "messageId": m} for m in events]
    parsed = parse_calls(
        {"batch": calls}, source=source, received_at=NOW, limits=Limits(), path_type=None
    )
    letters = [
        DeadLetter(
            source=source,
            kind="event",
            origin="test",
            payload=b"{}",
            field="event",
            value="1",
            reason="expected a string",
            dead_letter_id=f"dl-{events[0]}-{i}",
        )
        for i in range(refused)
    ]
    return encode_record(source=source, origin="test", events=parsed.rows, dead_letters=letters)


def message_ids(wh: Warehouse) -> list[str]:
    table = wh.con.sql("SELECT message_id FROM events ORDER BY message_id").to_pyarrow()
    return [str(v) for v in table.column(0).to_pylist()]


def test_drain_stores_events_and_dead_letters_and_advances_the_checkpoint(
    tmp_path: Path, wh: Warehouse
) -> None:
    with EventLog.open(tmp_path / "log") as log:
        log.append(record("a", "b", refused=1))
        log.append(record("c", "a"))  # "a" again: a retried call
        result = drain(log, wh)
        assert result.public() == {
            "records": 2,
            "events_stored": 3,
            "duplicates": 1,
            "dead_letters": 1,
            "checkpoint": log.end,
        }
        assert log.checkpoint() == log.end
        assert message_ids(wh) == ["a", "b", "c"]
        [letter] = wh.con.sql("SELECT * FROM dead_letters").to_pyarrow().to_pylist()
        assert letter["field"] == "event" and letter["received_at"] is not None
        row = wh.con.sql("SELECT * FROM events WHERE message_id = 'a'").to_pyarrow().to_pylist()
        assert row[0]["received_at"] == NOW and row[0]["loaded_at"] is not None
        assert drain(log, wh).records == 0


def test_a_crash_between_warehouse_write_and_checkpoint_stores_nothing_twice(
    tmp_path: Path, warehouse_url: str
) -> None:
    url = warehouse_url
    with EventLog.open(tmp_path / "log") as log, open_warehouse(url) as wh:
        log.append(record("a", "b", refused=1))
        log.append(record("c"))
        committed = log.commit

        def crash(offset: int) -> None:
            raise SystemExit("killed before the checkpoint")

        log.commit = crash  # type: ignore[method-assign]
        with contextlib.suppress(SystemExit):
            load_once(log, wh)
        log.commit = committed  # type: ignore[method-assign]
        assert log.checkpoint() == 0 and message_ids(wh) == ["a", "b", "c"]
    with EventLog.open(tmp_path / "log") as log, open_warehouse(url) as wh:
        replay = drain(log, wh)
        assert (replay.records, replay.events_stored, replay.duplicates) == (2, 0, 3)
        assert replay.dead_letters == 0
        assert message_ids(wh) == ["a", "b", "c"]
        assert wh.table("dead_letters").count().to_pyarrow().as_py() == 1


def test_subscribers_see_exactly_the_stored_events_once(tmp_path: Path, wh: Warehouse) -> None:
    stream = InProcessStream()
    assert isinstance(stream, EventStream)
    seen: list[pa.Table] = []
    unsubscribe = stream.subscribe(seen.append)

    def broken(batch: pa.Table) -> None:
        raise RuntimeError("a broken subscriber must not stop loading")

    stream.subscribe(broken)
    with EventLog.open(tmp_path / "log") as log:
        log.append(record("a", "b"))
        drain(log, wh, stream=stream)
        log.append(record("b", "c"))  # "b" is a duplicate: stored once, published once
        drain(log, wh, stream=stream)
        unsubscribe()
        log.append(record("d"))
        drain(log, wh, stream=stream)
        published = [m for batch in seen for m in batch.column("message_id").to_pylist()]
        assert published == ["a", "b", "c"]
        assert seen[0].column_names == list(wh.table("events").columns)
        assert message_ids(wh) == ["a", "b", "c", "d"]


def test_every_path_numbers_stored_events_in_order_for_durable_consumers(
    tmp_path: Path, wh: Warehouse
) -> None:
    from omnichannel.ingest.events_file import load_events_file

    archive = tmp_path / "archive.jsonl"
    archive.write_text(
        "".join(
            f'{{"type":"track","userId":"u","event":"F","messageId":"f{i}"}}\n' for i in range(4)
        )
        + '{"type":"track","userId":"u","event":"F","messageId":"m1"}\n'  # already stored
    )
    with EventLog.open(tmp_path / "log") as log_:
        log_.submit(record("m1", "m2", "m3")).result()
        drain(log_, wh)
        log_.submit(record("m3", "m4")).result()  # m3 again: a retried call
        drain(log_, wh)
        load_events_file(wh, archive, source="file")
        stored = wh.con.sql(
            "SELECT message_id, load_seq FROM events ORDER BY load_seq"
        ).to_pyarrow()
    assert stored.column("load_seq").to_pylist() == list(range(1, 9))
    ids = stored.column("message_id").to_pylist()
    assert ids[:4] == ["m1", "m2", "m3", "m4"] and sorted(ids[4:]) == ["f0", "f1", "f2", "f3"]


def test_a_retried_call_is_dropped_inside_the_dedupe_window_and_stored_after_it(
    tmp_path: Path, wh: Warehouse
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    earlier = pa.table(
        {
            "message_id": ["old", "recent"],
            "type": ["track", "track"],
            "user_id": ["u", "u"],
            "event": ["E", "E"],
            "loaded_at": [now - timedelta(days=2), now - timedelta(hours=1)],
            "load_seq": [1, 2],
        }
    )
    wh.append("events", earlier)
    with EventLog.open(tmp_path / "log") as log:
        log.append(record("old", "recent", "new"))
        windowed = drain(log, wh, dedupe_window=timedelta(days=1))
        # "recent" was stored within the day: a retry. "old" is past the window: stored.
        assert (windowed.events_stored, windowed.duplicates) == (2, 1)
        log.append(record("old", "new"))
        whole = drain(log, wh, dedupe_window=None)
        assert (whole.events_stored, whole.duplicates) == (0, 2)
    stored = wh.con.sql("SELECT message_id, load_seq FROM events ORDER BY load_seq").to_pyarrow()
    assert stored.to_pylist() == [
        {"message_id": "old", "load_seq": 1},
        {"message_id": "recent", "load_seq": 2},
        {"message_id": "old", "load_seq": 3},
        {"message_id": "new", "load_seq": 4},
    ]


def test_an_event_with_a_nul_character_in_the_log_is_a_dead_letter_and_the_loader_moves_on(
    tmp_path: Path, wh: Warehouse
) -> None:
    # The collector refuses NUL now; a record logged before it did may still hold one,
    # and PostgreSQL would refuse its whole batch. Every engine keeps the same: the
    # event as a dead letter naming the column, the events beside it stored.
    calls = [{"type": "track", "userId": "u", "event": "E", "messageId": m} for m in "ab"]
    parsed = parse_calls(
        {"batch": calls}, source="web", received_at=NOW, limits=Limits(), path_type=None
    )
    [first, second] = parsed.rows
    first["message_id"] = "N\u0000ul"
    logged = encode_record(source="web", origin="test", events=[first, second], dead_letters=[])
    with EventLog.open(tmp_path / "log") as log:
        log.append(logged)
        result = drain(log, wh)
        assert (result.events_stored, result.dead_letters, result.checkpoint) == (1, 1, log.end)
        log.append(logged)  # the same record again (a replay): nothing new
        assert drain(log, wh).public()["dead_letters"] == 0
    assert message_ids(wh) == ["b"]
    [letter] = wh.con.sql("SELECT * FROM dead_letters").to_pyarrow().to_pylist()
    assert (letter["field"], letter["value"]) == ("message_id", '"N\\u0000ul"')
    assert "NUL character" in letter["reason"] and letter["reason_code"] == "nul_character"
    assert json.loads(letter["payload"])["message_id"] == "N\u0000ul"


def test_a_batch_converted_in_chunks_stores_every_event_as_one_conversion_does(
    tmp_path: Path, wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loader converts log rows to Arrow a chunk at a time (so request threads get the
    # GIL between chunks); five events in chunks of two store what one conversion would.
    monkeypatch.setattr(loader, "ARROW_CHUNK_ROWS", 2)
    with EventLog.open(tmp_path / "log") as log:
        log.append(record("a", "b", "c"))
        log.append(record("d", "e", refused=1))
        result = drain(log, wh)
    assert (result.events_stored, result.dead_letters) == (5, 1)
    stored = wh.con.sql(
        "SELECT message_id, load_seq, user_id, event FROM events ORDER BY load_seq"
    ).to_pyarrow()
    assert stored.to_pylist() == [
        {"message_id": m, "load_seq": i, "user_id": "u", "event": "E"}
        for i, m in enumerate("abcde", start=1)
    ]


def test_a_large_batch_in_many_chunks_is_numbered_in_log_order(
    tmp_path: Path, wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB scans a many-chunk Arrow table in parallel; numbering in scan order put
    # later events before earlier ones, and a consumer reading "after N" skipped them.
    monkeypatch.setattr(loader, "ARROW_CHUNK_ROWS", 7)
    ids = [f"m{i:05d}" for i in range(4000)]
    with EventLog.open(tmp_path / "log") as log:
        log.append(record(*ids))
        assert drain(log, wh).events_stored == len(ids)
    stored = wh.con.sql("SELECT message_id FROM events ORDER BY load_seq").to_pyarrow()
    assert stored.column("message_id").to_pylist() == ids


def test_a_stop_out_of_time_leaves_the_rest_in_the_log_for_the_next_start(
    tmp_path: Path, wh: Warehouse
) -> None:
    # A stop after a long backlog must not outlast the service manager (then SIGKILL):
    # what it has no time to store stays in the durable log, and the next start has it.
    with EventLog.open(tmp_path / "log") as log:
        log.append(record("a", "b"))
        log.append(record("c"))
        late = loader.Loader(log, lambda: contextlib.nullcontext(wh), stream=None)
        late.stop(timeout=0)  # never started; no time for its final drain
        assert log.pending_bytes() > 0 and message_ids(wh) == []
        drain(log, wh)  # the next start
        assert message_ids(wh) == ["a", "b", "c"] and log.pending_bytes() == 0
