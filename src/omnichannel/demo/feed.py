"""Feeding the demo business through Omnichannel's own ingestion paths.

History's events go through the events-file loader (a Segment-style archive per source),
the last day through the HTTP collector (a write key per source, real HTTP, the durable
log, then the loader's ``drain``), customers, orders, spend and catalogue through the file
connectors with shipped mappings. What no ingestion path carries is appended directly:
the campaign plan (objective and budget are in no export the connectors read), message
deliveries, and the identifiers each ``identify`` call reveals (the events loaders store
the call, not identifier rows).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

import numpy as np
import pyarrow as pa

from omnichannel.demo.archive import segment_calls
from omnichannel.demo.exports import Export
from omnichannel.demo.live import live_collector
from omnichannel.ingest.connectors import ingest_file
from omnichannel.ingest.events_file import load_events_file
from omnichannel.ingest.mapping import load_mapping, remember_mapping
from omnichannel.ingest.sources import add_write_key, create_source, list_sources, revoke
from omnichannel.opstore import OpStore, open_opstore
from omnichannel.warehouse import Warehouse

Progress = Callable[[str, int, int], None]

# Source systems whose events reach the collector, and those that only send files.
HTTP_SOURCES = ("web", "app", "wechat", "email", "sms")
FILE_SOURCES = {
    "crm": "crm",
    "pos": "pos",
    "tmall": "ecommerce",
    "jd": "ecommerce",
    "weibo": "social",
    "douyin": "social",
    "xiaohongshu": "social",
    "agency": "file",
    "catalogue": "file",
}
ACTOR = "omni demo"
# The live slice: the last local day, at most this many calls.
LIVE_MAX = 50_000
# One call from a phone whose clock is years ahead per this many live calls (at least one).
WRONG_CLOCK_EVERY = 5_000


@dataclass
class Places:
    """Where the feed writes: export files, the collector's log; the opstore for keys."""

    exports: Path
    log: Path
    opstore: OpStore
    home: Path | None  # to remember each source's mapping, as `omni ingest` does


@contextmanager
def places(home: Path | None, opstore: OpStore | None) -> Iterator[Places]:
    """``<home>/demo/`` (replaced on each run), or a temporary directory and opstore."""
    with tempfile.TemporaryDirectory(prefix="omni-demo-") as scratch:
        root = home / "demo" if home is not None else Path(scratch)
        for sub in ("exports", "collector-log"):
            shutil.rmtree(root / sub, ignore_errors=True)
        store = opstore or open_opstore(f"sqlite:///{Path(scratch) / 'opstore.sqlite'}")
        try:
            yield Places(root / "exports", root / "collector-log", store, home)
        finally:
            if opstore is None:
                store.close()


@dataclass
class FeedReport:
    """How the demo's data arrived: per path, rows in, rows stored, rows refused."""

    files: list[dict[str, object]] = field(default_factory=list)
    archive_lines: int = 0
    archive_events: int = 0
    live_calls: int = 0
    live_requests: int = 0
    live_events: int = 0
    planted_bad: int = 0
    rejected: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, stage: str, started: float) -> None:
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + perf_counter() - started, 1)


def register_sources(store: OpStore) -> dict[str, str]:
    """Every demo source system as an Omnichannel source; a fresh write key per HTTP source."""
    keys: dict[str, str] = {}
    with store.session() as session:
        existing = {s.name for s in list_sources(session)}
        wanted = {**{name: "http" for name in HTTP_SOURCES}, **FILE_SOURCES}
        for name, kind in wanted.items():
            if name not in existing:
                info = create_source(
                    session, name=name, kind=kind, description="Lotus & Pine (demo)", actor=ACTOR
                )
            elif name in HTTP_SOURCES:
                info = add_write_key(session, name=name, actor=ACTOR)
            else:
                continue
            if name in HTTP_SOURCES and info.write_key is not None:
                keys[name] = info.write_key
    return keys


def retire_keys(store: OpStore, keys: dict[str, str]) -> None:
    """Revoke the keys the demo used: nobody else holds them (the sources API adds one)."""
    with store.session() as session:
        for key in keys.values():
            revoke(session, target=key[:10], actor=ACTOR)


def load_exports(
    wh: Warehouse, exports: list[Export], report: FeedReport, place: Places, progress: Progress
) -> None:
    for k, export in enumerate(exports):
        started = perf_counter()
        mapping = load_mapping(export.mapping) if export.mapping else None
        outcome = ingest_file(
            wh, export.path, kind=export.kind, source=export.source, mapping=mapping
        )
        if place.home is not None and mapping is not None:
            remember_mapping(place.home, export.source, mapping)
        report.files.append(
            {
                "file": str(export.path.relative_to(place.exports)),
                "kind": export.kind,
                "source": export.source,
                "mapping": outcome.mapping,
                "rows": outcome.rows,
                "rejected": outcome.rejected,
                "written": outcome.written,
            }
        )
        report.planted_bad += export.bad_rows
        report.rejected += outcome.rejected
        report.timed(f"load {export.kind}", started)
        progress("loading files", k + 1, len(exports))


def load_archive(wh: Warehouse, paths: list[Path], report: FeedReport, progress: Progress) -> None:
    """Each source's archive through the events-file loader, one progress bar in bytes."""
    started = perf_counter()
    total = sum(p.stat().st_size for p in paths)
    done = 0
    for path in paths:
        source = path.name.split(".")[0]

        def step(stage: str, read: int, size: int, base: int = done) -> None:
            progress("loading events", base + read, total)

        outcome = load_events_file(wh, path, source=source, progress=step)
        done += path.stat().st_size
        report.archive_lines += outcome.lines
        report.archive_events += outcome.events_stored
        report.rejected += outcome.rejected
    progress("loading events", total, total)
    report.timed("load events archive", started)


def wrong_clock(live: pa.Table) -> pa.Table:
    """Copies of every ``WRONG_CLOCK_EVERY``-th live call from a phone set ten years ahead."""
    rows = np.arange(0, live.num_rows, WRONG_CLOCK_EVERY)
    bad = live.take(pa.array(rows))
    ahead = bad.column("timestamp").cast(pa.int64()).to_numpy() + 3_652 * 86_400_000
    moved = pa.array(ahead.astype("datetime64[ms]"))
    ids = [f"{m}-clock" for m in bad.column("message_id").to_pylist()]
    bad = bad.set_column(bad.schema.get_field_index("timestamp"), "timestamp", moved)
    return bad.set_column(bad.schema.get_field_index("message_id"), "message_id", pa.array(ids))


def send_live(
    wh: Warehouse,
    live: pa.Table,
    keys: dict[str, str],
    report: FeedReport,
    place: Places,
    progress: Progress,
) -> None:
    """The live slice as Tracking API batches to a running collector, then drained."""
    started = perf_counter()
    planted = wrong_clock(live) if live.num_rows else live
    calls_by_key: dict[str, list[str]] = {}
    for table in (live, planted):
        if not table.num_rows:
            continue
        calls = segment_calls(table, archived=False).to_pylist()
        for source, call in zip(table.column("source").to_pylist(), calls, strict=True):
            calls_by_key.setdefault(keys[source], []).append(call)
    total = live.num_rows + planted.num_rows
    progress("collector", 0, total)
    with live_collector(place.log, place.opstore, wh) as server:
        sent = server.send(calls_by_key, report=lambda n: progress("collector", n, total))
        drained = server.drain_into(wh)
    report.live_calls = total
    report.live_requests = sent.requests
    report.live_events = drained.events_stored
    report.planted_bad += planted.num_rows
    report.rejected += sent.refused
    report.timed("collector", started)
