"""Profile traits: 100,000 people, 10,000,000 events, ~1,000,000 orders, on DuckDB.

Generates the inputs directly with DuckDB SQL (``record_profiles``, ``profile_identifiers``,
``events`` with product/content properties and some ``context_timezone``, ``orders``),
then times ``build_profiles`` (every trait, CLV fit and tags, all tables written). The
baseline, in the same process and engine, is hand-written DuckDB SQL computing the core
aggregates only: events attributed to profiles by user id, RFM quintiles, event counts per
channel and the hour-of-week histogram (fixed UTC+8 offset), into a table.
The build's own progress steps are timed too, so a slow figure can be traced to a stage
(members, hours and affinities, purchases and the CLV fit, the other traits, writing).

Every person buys at the same rate over the 180 days and nobody stops, so the CLV models
have no finite maximum-likelihood estimate here (no heterogeneity to estimate); the fit
ends at the boundary in a few dozen likelihood calls (see ``benchmarks/clv_fit.py``).
Run: ``python benchmarks/profile_traits.py [--people 100000 --events 10000000 --threads 2]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnichannel.profiles.build import build_profiles
from omnichannel.warehouse import open_warehouse


def generate(con: object, people: int, events: int) -> None:
    """Synthetic inputs in SQL: each person one profile with a user id, one CRM record."""
    sql = f"""
    INSERT INTO record_profiles
      SELECT 'crm', 'c' || i, 'p' || i, 'p' || i, TIMESTAMP '2025-01-01', now()::TIMESTAMP
      FROM range({people}) t(i);
    INSERT INTO profile_identifiers
      SELECT 'p' || i, 'user_id', 'u' || i, 'linked', 1, TIMESTAMP '2025-01-01',
             TIMESTAMP '2025-06-30'
      FROM range({people}) t(i);
    INSERT INTO events (message_id, type, event, user_id, timestamp, source, channel,
                        context_timezone, context_device_type, context_os_name,
                        context_campaign_name, properties, loaded_at)
      SELECT 'm' || i,
             CASE WHEN r < 0.7 THEN 'page' ELSE 'track' END,
             CASE WHEN r < 0.7 THEN NULL WHEN r < 0.9 THEN 'Product Viewed'
                  ELSE 'Content Viewed' END,
             'u' || (hash(i) % {people}),
             TIMESTAMP '2025-01-01' + to_seconds((hash(i * 7) % (180 * 86400))::BIGINT),
             ch, ch,
             CASE WHEN hash(i * 3) % 10 = 0 THEN 'Europe/Paris' ELSE NULL END,
             CASE WHEN ch = 'app' THEN 'ios' END,
             CASE WHEN ch = 'app' THEN 'iOS' END,
             CASE WHEN hash(i * 5) % 50 = 0 THEN 'Spring Sale' END,
             CASE WHEN r < 0.7 THEN NULL
                  WHEN r < 0.9 THEN '{{"category":"cat' || (hash(i * 11) % 8) || '"}}'
                  ELSE '{{"content_type":"type' || (hash(i * 13) % 5) || '"}}' END,
             TIMESTAMP '2025-07-01'
      FROM (SELECT i, (hash(i * 17) % 1000) / 1000.0 AS r,
                   ['web', 'app', 'wechat'][1 + (hash(i * 19) % 3)::INT] AS ch
            FROM range({events}) t(i));
    INSERT INTO orders (order_id, source, channel, user_id, ordered_at, status, currency, total)
      SELECT 'o' || i, ch, ch, 'u' || user_key,
             TIMESTAMP '2025-01-01' + to_seconds((hash(i * 7) % (180 * 86400))::BIGINT),
             'completed', 'CNY',
             -- each person's own spend level, scattered per order (Gamma-Gamma's story)
             ((30 + hash(user_key * 31) % 400) * (0.6 + (hash(i * 3) % 800) / 1000.0))
               ::DECIMAL(18, 2)
      FROM (SELECT i, ['web', 'app', 'store'][1 + (hash(i * 23) % 3)::INT] AS ch,
                   hash(i) % {people} AS user_key
            FROM range({people * 10}) t(i));
    INSERT INTO record_profiles
      SELECT source, order_id, 'p' || substr(user_id, 2), 'p' || substr(user_id, 2),
             ordered_at, now()::TIMESTAMP
      FROM orders;
    """
    con.raw_sql(sql)  # type: ignore[attr-defined]


BASELINE = """
CREATE OR REPLACE TEMP TABLE baseline AS
WITH ev AS (
  SELECT pi.profile_id, e.channel, e.timestamp + INTERVAL 8 HOUR AS lt
  FROM events e JOIN profile_identifiers pi
    ON pi.id_type = 'user_id' AND pi.id_value = e.user_id AND pi.status = 'linked'
),
chan AS (
  SELECT profile_id, arg_max(channel, n) AS top_channel
  FROM (SELECT profile_id, channel, count(*) n FROM ev GROUP BY ALL) GROUP BY ALL
),
hours AS (
  SELECT profile_id, list(n ORDER BY how) AS histogram, arg_max(how % 24, n) AS peak
  FROM (SELECT profile_id, ((dayofweek(lt) + 6) % 7) * 24 + hour(lt) AS how, count(*) n
        FROM ev GROUP BY ALL) GROUP BY ALL
),
o AS (
  SELECT rp.profile_id, count(*) AS orders, sum(total) AS revenue, max(ordered_at) AS last
  FROM orders JOIN record_profiles rp ON rp.source = orders.source
    AND rp.record_id = orders.order_id GROUP BY ALL
),
rfm AS (
  SELECT *, ntile(5) OVER (ORDER BY last) r, ntile(5) OVER (ORDER BY orders) f,
         ntile(5) OVER (ORDER BY revenue) m FROM o
)
SELECT * FROM rfm LEFT JOIN chan USING (profile_id) LEFT JOIN hours USING (profile_id)
"""


# What build_profiles does between two of its progress steps (build.py, STAGES = 7).
STAGE_NAMES = {
    1: "fingerprint + members",
    2: "hours + affinities",
    3: "purchases + CLV fit",
    5: "other traits + assembly",
    6: "writing tables",
    7: "report",
}


class StageClock:
    """Seconds between build_profiles' progress steps, keyed by what ran in between."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def step(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if done:
            name = STAGE_NAMES.get(done, f"step {done}")
            self.seconds[name] = self.seconds.get(name, 0.0) + now - self.last
        self.last = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, open_warehouse(f"duckdb:///{tmp}/b.duckdb") as wh:
        wh.con.raw_sql(f"SET threads = {args.threads}")
        started = time.perf_counter()
        generate(wh.con, args.people, args.events)
        print(
            f"generated {args.events:,} events, {args.people * 10:,} orders for "
            f"{args.people:,} people in {time.perf_counter() - started:.1f} s"
        )

        started = time.perf_counter()
        wh.con.raw_sql(BASELINE)
        baseline = time.perf_counter() - started
        rows = wh.con.sql("SELECT count(*) AS n FROM baseline").to_pyarrow()[0][0].as_py()
        print(
            f"baseline (hand-written DuckDB SQL, core aggregates, {rows:,} rows): {baseline:.1f} s"
        )

        stages = StageClock()
        started = time.perf_counter()
        report = build_profiles(wh, force=True, progress=stages.step)
        ours = time.perf_counter() - started
        print("build stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.seconds.items()))
        print(
            f"build_profiles (all traits, CLV fit, tags, written): {ours:.1f} s, "
            f"{report.profiles:,} profiles, CLV error: {report.clv['error']}"
        )
        print(
            f"ratio: {ours / baseline:.1f}x the baseline; target < 120 s: "
            f"{'met' if ours < 120 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
