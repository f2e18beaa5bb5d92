"""Event-to-first-step latency of an event-triggered journey, through a real ``omni serve``.

A home with N people (a CRM record with a ``user_id`` each, identity resolved, profiles
built: ``segment_realtime.build_home``) holds one live journey, entered on ``Product
Added`` keyed by ``cartId`` (re-entry always), whose first step is an ``exit``: the
cheapest step, so what is measured is the way there. ``omni serve`` runs in a second
process (collector, loader, the journey trigger as a durable consumer, the journey
runtime); this one posts ``/v1/batch`` at ``--rate`` events/s (batches of ``rate/10``
every 0.1 s), of which ``--entries`` per batch are ``Product Added`` with a new cart
(each an enrolment) and the rest page views.

For each entry the latency is from the batch's acknowledgement (the response) to the
moment its enrolment's first ``journey_steps`` row is committed, seen by a poller in
this process reading the operational store every ``--poll`` seconds (so the figure
includes up to one poll interval); ack -> enrolment committed is printed beside it.
The baseline is the store path alone, run side by side in the same server: ack -> the
loader stored the event (``events.loaded_at``; what any consumer waits for first), and
the ratio is p99 first step / p99 stored. Target (issue #11): p99 < 1 s at 1,000 events/s.

    .venv/bin/python benchmarks/journey_latency.py                   # 10,000 profiles, 30 s
    .venv/bin/python benchmarks/journey_latency.py --profiles 2000 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.segment_realtime import build_home
from benchmarks.support import ms, quantile, server

JOURNEY = {
    "name": "latency",
    "entry": {"event": {"name": "Product Added", "key": "cartId"}},
    "reentry": {"mode": "always"},
    "start": "done",
    "steps": {"done": {"exit": {}}},
}


def trigger_batches(log: Path) -> tuple[list[float], list[float]]:
    """From the server's log: each trigger batch's seconds, and how long after being
    stored its oldest event was handled."""
    seconds, behind = [], []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if str(entry.get("message", "")).startswith("journey trigger:"):
            seconds.append(float(entry["seconds"]))
            if entry.get("behind_seconds") is not None:
                behind.append(float(entry["behind_seconds"]))
    return seconds, behind


class Poller:
    """Notes when each enrolment and each first step becomes visible (epoch s)."""

    def __init__(self, opstore: Path, every: float) -> None:
        self.path = opstore
        self.every = every
        self.enrolled: dict[str, float] = {}  # entry_ref -> seen
        self.stepped: dict[str, float] = {}  # entry_ref -> first step seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        last_enrolment = last_step = 0
        ref_of: dict[int, str] = {}
        while not self._stop.is_set():
            seen = time.time()
            for row_id, ref in con.execute(
                "SELECT id, entry_ref FROM journey_enrolments WHERE id > ? ORDER BY id",
                (last_enrolment,),
            ):
                ref_of[row_id] = ref
                self.enrolled.setdefault(ref, seen)
                last_enrolment = row_id
            for row_id, enrolment in con.execute(
                "SELECT id, enrolment_id FROM journey_steps WHERE id > ? ORDER BY id",
                (last_step,),
            ):
                ref = ref_of.get(enrolment)
                if ref is not None:
                    self.stepped.setdefault(ref, seen)
                last_step = row_id
            self._stop.wait(self.every)
        con.close()


def send(
    base: str, key: str, profiles: int, rate: int, seconds: float, entries: int
) -> tuple[dict[str, float], int, int]:
    """Post batches at ``rate``; returns entry messageId -> ack time (epoch s), sent, failed."""
    per_batch = max(entries, rate // 10)
    acks: dict[str, float] = {}
    sent = failed = 0
    start = time.monotonic()
    with httpx.Client(base_url=base, auth=(key, ""), timeout=30) as client:
        tick = 0
        while time.monotonic() - start < seconds:
            batch: list[dict[str, Any]] = []
            tracked = []
            for i in range(per_batch):
                user = f"u{(tick * 97 + i) % profiles}"
                message = uuid.uuid4().hex
                if i < entries:
                    tracked.append(message)
                    call = {"event": "Product Added", "properties": {"cartId": message[:12]}}
                else:
                    call = {"event": "Page Viewed"}
                batch.append({"type": "track", "userId": user, "messageId": message, **call})
            response = client.post("/v1/batch", json={"batch": batch})
            acked = time.time()
            if response.status_code == 200:
                sent += len(batch)
                acks.update(dict.fromkeys(tracked, acked))
            else:
                failed += len(batch)
            tick += 1
            pause = start + tick / 10 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    return acks, sent, failed


def stored_times(home: Path, messages: set[str]) -> dict[str, float]:
    """messageId -> when the loader stored it (``loaded_at``, epoch s)."""
    import duckdb

    con = duckdb.connect(str(home / "omni.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT message_id, epoch(loaded_at) FROM events WHERE event = 'Product Added'"
    ).fetchall()
    con.close()
    return {str(m): float(at) for m, at in rows if m in messages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=1000, help="events/s into the collector")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--entries", type=int, default=20, help="journey entries per batch")
    parser.add_argument("--poll", type=float, default=0.01, help="opstore poll interval, s")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()

    from omnichannel.ingest.sources import create_source
    from omnichannel.platform import Platform

    root = Path(tempfile.mkdtemp(prefix="omni-jlat-"))
    home = root / "home"
    try:
        started = time.perf_counter()
        build_home(home, args.profiles)
        print(
            f"home: {args.profiles:,} profiles ({time.perf_counter() - started:.1f} s to load, "
            "resolve and build)"
        )
        with Platform.open(home) as platform:
            platform.journeys.create(JOURNEY, actor="benchmark")
            platform.journeys.approve(JOURNEY["name"], actor="benchmark-approver")
            platform.journeys.start(JOURNEY["name"], actor="benchmark")
            with platform.opstore.session() as session:
                key = create_source(session, name="web", kind="http", actor="benchmark").write_key
        assert key is not None
        log = root / "serve.log"
        with (
            server(home, args.port, log=log) as base,
            Poller(home / "opstore.sqlite", args.poll) as seen,
        ):
            acks, sent, failed = send(
                base, key, args.profiles, args.rate, args.seconds, args.entries
            )
            time.sleep(5)  # let the last ones through before stopping
        loaded = stored_times(home, set(acks))
        first_step = [seen.stepped[m] - at for m, at in acks.items() if m in seen.stepped]
        enrolled = [seen.enrolled[m] - at for m, at in acks.items() if m in seen.enrolled]
        to_store = [loaded[m] - at for m, at in acks.items() if m in loaded]
        rate = sent / args.seconds
        print(
            f"sent {sent:,} events in {args.seconds:.0f} s ({rate:,.0f} events/s), "
            f"{len(acks):,} journey entries, {failed} refused"
        )
        print(
            f"acknowledgement -> first step, {len(first_step):,} enrolments "
            f"({len(acks) - len(first_step)} without a step after the run): {ms(first_step)}"
        )
        print(f"  acknowledgement -> enrolment committed: {ms(enrolled)}")
        batch_seconds, behind = trigger_batches(log)
        print(
            f"  the trigger's {len(batch_seconds)} batches that enrolled: {ms(batch_seconds)} "
            f"each; handled after being stored (oldest event of each): {ms(behind)}"
        )
        print(f"  baseline, acknowledgement -> stored by the loader: {ms(to_store)}")
        if first_step and to_store:
            ratio = quantile(first_step, 0.99) / quantile(to_store, 0.99)
            print(f"ratio p99 first step / p99 stored: {ratio:.2f}")
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
