"""The event log: group commit, torn tails after a crash, checkpoints, segment rolling."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from omnichannel.ingest.log import HEADER, EventLog, LogError, frame


def payloads(log: EventLog, start: int = 0) -> list[bytes]:
    return [entry.payload for entry in log.read(start, max_bytes=1 << 30)]


def test_records_come_back_in_order_with_their_offsets(tmp_path: Path) -> None:
    with EventLog.open(tmp_path / "log") as log:
        first = log.append(b"one")
        second = log.append(b"two")
        entries = log.read(0)
    assert [(e.offset, e.payload) for e in entries] == [(first, b"one"), (second, b"two")]
    assert entries[0].next_offset == second == HEADER.size + 3


def test_concurrent_appends_share_fsyncs_and_all_survive(tmp_path: Path) -> None:
    log = EventLog.open(tmp_path / "log")
    calls = {"n": 0}
    real = log._write

    def counting(batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return real(batch)

    log._write = counting  # type: ignore[method-assign]
    threads = [
        threading.Thread(target=lambda n=n: [log.append(f"{n}-{i}".encode()) for i in range(50)])
        for n in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    with EventLog.open(tmp_path / "log") as reopened:
        stored = payloads(reopened)
    assert sorted(stored) == sorted(f"{n}-{i}".encode() for n in range(16) for i in range(50))
    assert calls["n"] < 800, "every append paid its own fsync"


@pytest.mark.parametrize("cut", [1, HEADER.size - 1, HEADER.size + 2])
def test_a_torn_tail_is_detected_dropped_and_later_appends_are_readable(
    tmp_path: Path, cut: int
) -> None:
    with EventLog.open(tmp_path / "log") as log:
        log.append(b"kept-1")
        log.append(b"kept-2")
    [segment] = (tmp_path / "log").glob("*.log")
    with open(segment, "ab") as handle:  # a crash in the middle of writing a third record
        handle.write(frame(b"torn-record-payload")[:cut])
    with EventLog.open(tmp_path / "log") as log:
        assert log.torn_bytes == cut
        log.append(b"after")
        assert payloads(log) == [b"kept-1", b"kept-2", b"after"]


def test_a_corrupted_payload_fails_its_checksum(tmp_path: Path) -> None:
    with EventLog.open(tmp_path / "log") as log:
        log.append(b"good")
        log.append(b"flipped")
    [segment] = (tmp_path / "log").glob("*.log")
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    with EventLog.open(tmp_path / "log") as log:
        assert payloads(log) == [b"good"]


def test_checkpoint_survives_reopening_and_consumed_segments_are_removed(
    tmp_path: Path,
) -> None:
    with EventLog.open(tmp_path / "log", segment_bytes=1024) as log:
        offsets = [log.append(bytes(300)) for _ in range(10)]
        assert len(log.segments()) > 2
        log.commit(offsets[8])
        assert log.checkpoint() == offsets[8]
        assert len(payloads(log, log.checkpoint())) == 2
    with EventLog.open(tmp_path / "log", segment_bytes=1024) as log:
        assert log.checkpoint() == offsets[8]
        assert min(log.segments()) <= offsets[8] < log.end
        assert len(payloads(log, log.checkpoint())) == 2
        assert log.pending_bytes() == log.end - offsets[8]


def test_a_second_writer_on_the_same_log_is_refused(tmp_path: Path) -> None:
    with EventLog.open(tmp_path / "log"), pytest.raises(LogError, match="in use"):
        EventLog.open(tmp_path / "log")
