"""Real-time segment membership: from the collector's acknowledgement to membership.

A home with N people (a CRM record with a ``user_id`` each, identity resolved and
profiles built) and 10N earlier events holds one segment, "viewing, not buying": at
least 3 ``Product Viewed`` in the last 30 days and no ``Order Completed`` in them.
Every third person has 2 views already, so their next view makes them a member.
``omni serve`` runs in a second process; this one posts ``/v1/batch`` at ``--rate``
events/s (batches of 100 every 0.1 s: page views, views of people who stay short of 3,
and in each batch ``--tracked`` third views of people who qualify with it). For each of
those, the latency is the time from the batch's acknowledgement (the response) to the
moment the updater stored that person's ``Segment Entered`` event, in the same
transaction as the membership row (its ``loaded_at``: the same machine's clock).

The baseline is the batch refresh of the same segment (what a person would wait for
without the updater: at best one full evaluation, at worst the job's period more), run
in this process after the server stopped. Target (issue #9): p99 < 2 s.

    .venv/bin/python benchmarks/segment_realtime.py                     # 100,000 profiles
    .venv/bin/python benchmarks/segment_realtime.py --profiles 20000 --seconds 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support import ms, quantile, server

SEGMENT = {
    "name": "viewing-not-buying",
    "condition": {
        "all": [
            {
                "event": {
                    "name": "Product Viewed",
                    "count": {"at_least": 3},
                    "within": {"last_days": 30},
                }
            },
            {
                "not": {
                    "event": {
                        "name": "Order Completed",
                        "count": {"at_least": 1},
                        "within": {"last_days": 30},
                    }
                }
            },
        ]
    },
}


def build_home(home: Path, profiles: int) -> None:
    """A CRM record per person (their ``user_id``) and 10N events written with DuckDB SQL,
    then identity resolved and profiles built as ``omni`` does (so the build's
    ``profile_timeline`` is there, as in an installation that has run its jobs)."""
    import duckdb

    from omnichannel.config import Settings
    from omnichannel.installation import initialise
    from omnichannel.platform import Platform

    initialise(Settings(home=home))
    now = datetime.now(UTC).replace(tzinfo=None)
    con = duckdb.connect(str(home / "omni.duckdb"))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"""
        INSERT INTO identifiers BY NAME
        SELECT 'crm' AS source, 'c' || i AS record_id, 'user_id' AS id_type,
               'u' || i AS id_value, TIMESTAMP '{now - timedelta(days=90):%Y-%m-%d %H:%M:%S}'
                   AS observed_at
        FROM range({profiles}) t(i);
        -- i % 3 earlier views in the last 30 days (so nobody is a member yet), the rest
        -- page views, 10 events per person in all.
        INSERT INTO events BY NAME
        SELECT 'h' || i || '-' || k AS message_id, 'track' AS type,
               CASE WHEN k < i % 3 THEN 'Product Viewed' ELSE 'Page Viewed' END AS event,
               'u' || i AS user_id, 'web' AS source, 'web' AS channel,
               TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}' - INTERVAL (1 + (i * 7 + k) % 20) DAY
                   AS timestamp,
               TIMESTAMP '{now - timedelta(days=1):%Y-%m-%d %H:%M:%S}' AS loaded_at,
               row_number() OVER () AS load_seq
        FROM range({profiles}) t(i), range(10) s(k);
        """
    )
    con.close()
    with Platform.open(home) as platform:
        platform.identity.resolve()
        platform.profiles.build()


def send(
    base: str, key: str, profiles: int, rate: int, seconds: float, tracked: int
) -> tuple[dict[str, float], int, int]:
    """Post batches at ``rate``; returns tracked user -> ack time (epoch s), sent, failed."""
    per_batch = max(1, rate // 10)
    qualifying = iter(range(2, profiles, 3))  # people with 2 views already
    short = iter(range(0, profiles, 3))  # people with none: one more view is not enough
    acks: dict[str, float] = {}
    sent = failed = 0
    start = time.monotonic()
    with httpx.Client(base_url=base, auth=(key, ""), timeout=30) as client:
        tick = 0
        while time.monotonic() - start < seconds:
            batch: list[dict[str, Any]] = []
            users = [f"u{next(qualifying)}" for _ in range(tracked)]
            for user in users:
                batch.append({"type": "track", "userId": user, "event": "Product Viewed"})
            for _ in range(per_batch // 5):
                batch.append(
                    {"type": "track", "userId": f"u{next(short)}", "event": "Product Viewed"}
                )
            while len(batch) < per_batch:
                batch.append(
                    {
                        "type": "track",
                        "userId": f"u{(tick * 97 + len(batch)) % profiles}",
                        "event": "Page Viewed",
                    }
                )
            for call in batch:
                call["messageId"] = uuid.uuid4().hex
            response = client.post("/v1/batch", json={"batch": batch})
            acked = time.time()
            if response.status_code == 200:
                sent += len(batch)
                for user in users:
                    acks[user] = acked
            else:
                failed += len(batch)
            tick += 1
            pause = start + tick / 10 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
    return acks, sent, failed


def stored_times(home: Path) -> tuple[dict[str, float], dict[str, float], list[float]]:
    """user -> when the loader stored their qualifying view, and when the updater stored
    their Segment Entered event (epoch s, both ``loaded_at``); and how long each of the
    updater's evaluations took (evaluate + apply, ``segment_refreshes.seconds``)."""
    import duckdb

    con = duckdb.connect(str(home / "omni.duckdb"), read_only=True)
    entered = con.execute(
        "SELECT pi.id_value, epoch(e.loaded_at) FROM events e "
        "JOIN profile_identifiers pi "
        "  ON pi.profile_id = json_extract_string(e.properties, '$.profile_id') "
        "WHERE e.event = 'Segment Entered' AND e.source = 'omni-segments'"
    ).fetchall()
    cycles = con.execute(
        "SELECT seconds FROM segment_refreshes WHERE mode = 'realtime' ORDER BY refreshed_at"
    ).fetchall()
    viewed = con.execute(
        "SELECT user_id, epoch(max(loaded_at)) FROM events "
        "WHERE event = 'Product Viewed' AND message_id NOT LIKE 'h%' GROUP BY user_id"
    ).fetchall()
    con.close()
    return (
        {str(u): float(at) for u, at in viewed},
        {str(u): float(at) for u, at in entered},
        [float(c[0]) for c in cycles],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000, help="events/s into the collector")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--tracked", type=int, default=2, help="qualifying events per batch")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    from omnichannel.consumers import Checkpoints
    from omnichannel.ingest.sources import create_source
    from omnichannel.platform import Platform
    from omnichannel.segments.definition import parse_definition
    from omnichannel.segments.realtime import CONSUMER_NAME
    from omnichannel.segments.refresh import latest_load_seq, refresh
    from omnichannel.segments.store import SegmentStore

    root = Path(tempfile.mkdtemp(prefix="omni-segrt-"))
    home = root / "home"
    try:
        started = time.perf_counter()
        build_home(home, args.profiles)
        print(
            f"home: {args.profiles:,} profiles, {10 * args.profiles:,} events "
            f"({time.perf_counter() - started:.1f} s to load, resolve and build)"
        )
        with Platform.open(home) as platform:
            stored = SegmentStore(platform.opstore).create(
                parse_definition(SEGMENT), created_by="benchmark"
            )
            first = refresh(platform.warehouse, stored, rules=platform.config.rules)
            with platform.warehouse.reader() as wh:
                stored_up_to = latest_load_seq(wh)
            Checkpoints(platform.opstore).set(CONSUMER_NAME, stored_up_to)
            with platform.opstore.session() as session:
                key = create_source(session, name="web", kind="http", actor="benchmark").write_key
        assert key is not None
        print(f"segment {stored.name}: {first.members} members before the traffic")
        with server(home, args.port) as base:
            acks, sent, failed = send(
                base, key, args.profiles, args.rate, args.seconds, args.tracked
            )
            time.sleep(5)  # let the last ones through before stopping
        loaded, entries, cycles = stored_times(home)
        latencies = [entries[u] - at for u, at in acks.items() if u in entries]
        to_store = [loaded[u] - at for u, at in acks.items() if u in loaded]
        to_member = [entries[u] - loaded[u] for u in acks if u in entries and u in loaded]
        missing = len(acks) - len(latencies)
        with Platform.open(home) as platform:
            again = SegmentStore(platform.opstore).get(stored.name)
            assert again is not None
            batch = refresh(platform.warehouse, again, rules=platform.config.rules)
        rate = sent / args.seconds
        print(
            f"sent {sent:,} events in {args.seconds:.0f} s ({rate:,.0f} events/s), {failed} refused"
        )
        if not latencies:
            print("no tracked entry was seen")
            return
        p50, p99 = statistics.median(latencies), quantile(latencies, 0.99)
        print(
            f"acknowledgement -> member, {len(latencies)} people "
            f"({missing} not a member after the run): p50 {p50 * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
        print(
            f"  acknowledgement -> stored by the loader: {ms(to_store)}; "
            f"stored -> member: {ms(to_member)}"
        )
        print(
            f"  the updater's {len(cycles)} evaluations of this segment (evaluate + apply): "
            f"{ms(cycles)}"
        )
        print(
            f"batch refresh of the same segment (full, {batch.members:,} members): "
            f"{batch.seconds:.2f} s; ratio p99 / batch {p99 / batch.seconds:.2f}"
        )
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
