"""``platform.send_times.build()`` at a realistic size, beside one hand-written DuckDB argmax.

Run: ``.venv/bin/python benchmarks/send_time_build.py [--profiles 200000] [--events 5000000]``

A synthetic warehouse (DuckDB): ``--profiles`` people, each a ``user_id`` linked to a
profile, and ``--events`` track events over 90 days around each person's own peak hour
(85 % page views, 5 % each email clicks, push taps and WeChat clicks; 10 % of events carry
``America/New_York``, the rest the installation's zone). Then, side by side in this process:

- the build: attribution to profiles, local time per event zone, active hours and
  responses per channel, the fitted Dirichlet-multinomial model for five channels, and
  three tables written aside and swapped in (``send_times``, ``send_time_hours``,
  ``send_time_peaks``);
- the baseline: one hand-written DuckDB statement over the same events and identifiers:
  each profile's most frequent hour of week at a fixed +8 h offset (``arg_max``), written
  to a table. It has no channels, zones, hour slots, smoothing or shrinkage: it is the
  floor of "read every event once and group it".

Printed: both times, their ratio, the build's stages, the load average, and how long
``next_best`` takes for 500 people at once (what a journey step asks).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from omnichannel.platform import Platform

BASELINE_SQL = """
CREATE OR REPLACE TABLE baseline_send_times AS
WITH hours AS (
    SELECT p.profile_id,
           (isodow(e."timestamp" + INTERVAL 8 HOUR) - 1) * 24
               + hour(e."timestamp" + INTERVAL 8 HOUR) AS hour_of_week,
           count(*) AS n
    FROM events AS e
    JOIN profile_identifiers AS p
      ON p.id_type = 'user_id' AND p.status = 'linked' AND p.id_value = e.user_id
    GROUP BY ALL
)
SELECT profile_id, arg_max(hour_of_week, n) AS hour_of_week, sum(n) AS events
FROM hours GROUP BY profile_id
"""


def _fill(platform: Platform, profiles: int, events: int) -> None:
    with platform.warehouse.writer() as wh:
        con = wh.con.con
        con.execute(
            f"""
            INSERT INTO profile_identifiers
                (profile_id, id_type, id_value, status, records, first_seen, last_seen)
            SELECT 'p' || i, 'user_id', 'u' || i, 'linked', 1,
                   TIMESTAMP '2026-01-01', TIMESTAMP '2026-04-01'
            FROM range({profiles}) AS t(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO events (message_id, type, event, user_id, "timestamp", source, channel,
                                context_timezone, loaded_at, load_seq)
            WITH draws AS (
                SELECT i, (hash(i) % {profiles})::BIGINT AS u, random() AS r,
                       floor(random() * 90)::INTEGER AS day,
                       round((random() + random() + random() - 1.5) * 4)::INTEGER AS jitter,
                       floor(random() * 60)::INTEGER AS minute
                FROM range({events}) AS t(i)
            )
            SELECT 'm' || i, 'track',
                   CASE WHEN r < 0.85 THEN 'Page Viewed'
                        WHEN r < 0.90 THEN 'Email Link Clicked'
                        WHEN r < 0.95 THEN 'Push Notification Tapped'
                        ELSE 'WeChat Message Clicked' END,
                   'u' || u,
                   TIMESTAMP '2026-01-01' + to_days(day)
                       + to_hours((((u % 24) + jitter + 24) % 24 - 8)::BIGINT)
                       + to_minutes(minute),
                   'web', 'web',
                   CASE WHEN u % 10 = 0 THEN 'America/New_York' END,
                   TIMESTAMP '2026-04-01', i + 1
            FROM draws
            """
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Platform.open(Path(tmp) / "home") as platform:
        started = time.perf_counter()
        _fill(platform, args.profiles, args.events)
        print(
            f"{args.profiles:,} profiles, {args.events:,} events generated in "
            f"{time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.1f}"
        )
        baselines: list[float] = []
        baseline_cpu: list[float] = []

        def baseline() -> None:
            with platform.warehouse.reader() as wh:
                began, cpu = time.perf_counter(), time.process_time()
                wh.con.con.execute(BASELINE_SQL)
                baselines.append(time.perf_counter() - began)
                baseline_cpu.append(time.process_time() - cpu)

        stages: dict[str, list[float]] = {}
        last = [time.perf_counter(), time.process_time()]

        def progress(stage: str, done: int, total: int) -> None:
            # wall and CPU seconds (the process's, DuckDB's threads included) per stage
            now = [time.perf_counter(), time.process_time()]
            key = ("start", "evidence", "model", "tables written", "swapped")[done]
            spent = stages.setdefault(key, [0.0, 0.0])
            spent[0] += now[0] - last[0]
            spent[1] += now[1] - last[1]
            last[:] = now

        baseline()
        last[:] = [time.perf_counter(), time.process_time()]
        began, cpu = time.perf_counter(), time.process_time()
        report = platform.send_times.build(progress=progress)
        ours, ours_cpu = time.perf_counter() - began, time.process_time() - cpu
        baseline()
        base = statistics.median(baselines)
        print(
            f"build: {ours:.1f} s, {ours_cpu:.1f} s CPU ({report.profiles:,} profiles, "
            f"{report.rows:,} rows of send_times); load average now {os.getloadavg()[0]:.1f}"
        )
        print(
            "  stages (wall / CPU): "
            + ", ".join(f"{k} {w:.1f} / {c:.1f} s" for k, (w, c) in stages.items())
        )
        base_cpu = statistics.median(baseline_cpu)
        print(
            f"baseline (one DuckDB arg_max statement): {base:.1f} s, {base_cpu:.1f} s CPU "
            f"(runs: {', '.join(f'{b:.1f}' for b in baselines)})"
        )
        print(f"ratio build / baseline: {ours / base:.2f}x wall, {ours_cpu / base_cpu:.2f}x CPU")
        # What a journey asks: 500 people at once, their best hour in the next day.
        ids = [f"p{i}" for i in range(0, args.profiles, max(1, args.profiles // 500))][:500]
        after = datetime(2026, 4, 2, 6, 0)
        asks = []
        for _ in range(5):
            began = time.perf_counter()
            answer = platform.send_times.next_best(ids, "email", after=after)
            asks.append(time.perf_counter() - began)
        print(
            f"next_best for {len(answer)} profiles: median {1000 * statistics.median(asks):.0f} ms "
            f"(runs: {', '.join(f'{1000 * a:.0f}' for a in asks)} ms)"
        )
        email = report.channels["email"]
        print(
            f"email: prior strength {email['prior_strength']}, peak {email['peak']}, "
            f"own {email['own']:,}, population {email['population']:,}"
        )


if __name__ == "__main__":
    main()
