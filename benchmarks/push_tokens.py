"""Push tokens of a send batch: every device of 1,000 people, found among all the events.

A push goes to every device a person's events carried a token from
(``channels.push.push_tokens``, one query for the batch: the events naming one of the
batch's identifiers and mentioning a token, their context parsed, each typed by the
identity rules and joined to the identity graph, one row per person and device).

Beside it, in the same process and the same minute, the baseline: DuckDB reading only
the tokens of the same people's user ids from the same events (no identity graph, no
typing, no devices ranked): the cost of the scan alone, which any lookup reading
``events`` pays.

Printed: the median seconds of each over 5 runs, and the ratio ours / baseline.

Run: ``python benchmarks/push_tokens.py [--people 200000] [--batch 1000]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnichannel.channels.push import push_tokens
from omnichannel.config import Settings
from omnichannel.installation import initialise
from omnichannel.platform import Platform

EVENTS_EACH = 5  # two of them from a device with a token (a phone, a tablet)


def build(platform: Platform, n: int) -> None:
    with platform.warehouse.writer() as wh:
        con = wh.con.con  # type: ignore[attr-defined]
        con.execute(
            f"""
            INSERT INTO profile_identifiers (profile_id, id_type, id_value, status, records,
                                             first_seen, last_seen)
            SELECT 'p_' || i, 'user_id', 'u' || i, 'linked', 1,
                   TIMESTAMP '2026-01-01', TIMESTAMP '2026-06-01' FROM range({n}) t(i);
            INSERT INTO events (message_id, type, event, user_id, "timestamp", source, context,
                                loaded_at)
            SELECT 'm' || i || '-' || j, 'track', 'Application Opened', 'u' || i,
                   TIMESTAMP '2026-05-01' + INTERVAL (j) HOUR, 'app',
                   CASE WHEN j < 2
                        THEN '{{"device": {{"token": "tok-' || i || '-' || j || '"}}}}'
                        ELSE '{{"page": {{"path": "/"}}}}' END,
                   TIMESTAMP '2026-05-01'
            FROM range({n}) t(i), range({EVENTS_EACH}) s(j);
            """
        )


def median_seconds(run: object, times: int = 5) -> float:
    took = []
    for _ in range(times):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        initialise(settings)
        with Platform(settings) as platform:
            build(platform, args.people)
            step = max(1, args.people // args.batch)
            ids = [f"p_{i}" for i in range(0, args.people, step)][: args.batch]
            users = [f"u{i}" for i in range(0, args.people, step)][: args.batch]
            load_before = os.getloadavg()
            with platform.warehouse.reader() as wh:
                found = push_tokens(wh, ids)
                con = wh.con.con  # type: ignore[attr-defined]
                marks = ", ".join("?" for _ in users)
                bare = (
                    "SELECT user_id, json_extract_string(context, '$.device.token') AS token "
                    f"FROM events WHERE user_id IN ({marks}) AND context LIKE '%\"token\"%'"
                )
                ours = median_seconds(lambda: push_tokens(wh, ids))
                base = median_seconds(lambda: con.execute(bare, users).fetchall())
    devices = sum(len(v) for v in found.values())
    print(f"people: {args.people:,}, events: {args.people * EVENTS_EACH:,}, batch: {len(ids):,}")
    print(f"load (1, 5, 15 min): {load_before} at the start, {os.getloadavg()} at the end")
    print(f"ours (push_tokens, every device): {ours:.3f} s ({devices:,} devices found)")
    print(f"baseline (the scan alone, DuckDB SQL): {base:.3f} s")
    print(f"ratio ours / baseline: {ours / base:.2f}")


if __name__ == "__main__":
    main()
