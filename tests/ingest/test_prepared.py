"""The collector process's prepared batches (``ingest/prepared.py``) against the log they cache.

The loader must store from a batch exactly what it would store decoding the same records,
and decode the records itself where the batch is missing or torn: the log, not the batch,
is what was acknowledged.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from omnichannel.ingest.loader import Loader, prepare_rows
from omnichannel.ingest.log import EventLog
from omnichannel.ingest.prepared import PreparedBatches, PreparedTail
from omnichannel.warehouse import Warehouse
from tests.ingest.test_loader import message_ids, record


def test_the_loader_stores_prepared_batches_and_decodes_what_has_none_or_a_torn_one(
    tmp_path: Path, wh: Warehouse
) -> None:
    directory = tmp_path / "collector"
    with EventLog.open(directory) as writer, EventLog.open(tmp_path / "main") as own:
        batches = PreparedBatches(directory)
        writer.append(record("a", "b", "a", refused=1))  # "a" twice in one request
        entries = writer.read(0)
        batches.write(0, entries[-1].next_offset, prepare_rows(entries))
        writer.append(record("c", "b"))  # no batch: the loader decodes it
        start = writer.end
        writer.append(record("d"))
        # A batch torn by a crash of the machine (renamed, its bytes never written).
        torn = writer.end
        for suffix in (".events.arrow", ".letters.arrow"):
            (batches.directory / f"{start:020d}-{torn:020d}{suffix}").write_bytes(b"ARROW1\0\0")

        tail = PreparedTail(directory)
        tail.advance(writer.end)
        loader = Loader(own, lambda: contextlib.nullcontext(wh), stream=None, also=(tail,))
        loader.stop()  # never started: its final drain stores every log, impatiently

        assert message_ids(wh) == ["a", "b", "c", "d"]
        assert wh.con.table("dead_letters").count().to_pyarrow().as_py() == 1
        assert loader.totals.public() == {
            "records": 3,
            "events_stored": 4,
            "duplicates": 2,  # "a" within the batch, "b" across records
            "dead_letters": 1,
            "checkpoint": torn,
        }
        assert (tail.records_prepared, tail.records_decoded) == (1, 2)
        assert tail.checkpoint() == torn
        assert batches.ranges() == []  # stored, so deleted


def test_a_restarted_collector_process_goes_on_after_its_whole_batches(tmp_path: Path) -> None:
    directory = tmp_path / "collector"
    with EventLog.open(directory) as writer:
        writer.append(record("a"))
        first = writer.end
        writer.append(record("b"))
        second = writer.end
        batches = PreparedBatches(directory)
        rows = prepare_rows(writer.read(0))
        batches.write(0, first, rows)
        batches.write(first, second, rows)
        batches.write(5, second, rows)  # not on the run from the checkpoint
        assert batches.resume(checkpoint=first) == second
        assert batches.ranges() == [(first, second)]  # stored and stray ones deleted
