"""A four-step funnel with a 7-day window over 50,000,000 events on DuckDB, beside the
naive hand-written DuckDB SQL funnel (step-by-step self-joins) on the same data.

Issue 12's target: ratio ours / naive < 1 (never above 1.5). The events are synthetic,
generated in DuckDB itself (deterministic: a hash of the row number): ``--people``
users over 90 days, each event one of ten names, the four funnel steps among them at
decreasing rates; every user is one linked profile in ``profile_identifiers``, so both
queries resolve the person the same way (user id -> profile). Ours is
``platform.funnels.run`` (the library face: validation, the Ibis expression, medians and
p90s included); the naive one counts the same people per step with one self-join of the
events per step. Both are run ``--repeat`` times alternately, the best of each kept; the
per-step counts must be equal.

    python benchmarks/funnel.py [--events 50000000] [--people 2000000] [--repeat 3]
        [--home /tmp/funnel-bench]  (kept between runs of the same size: --fresh rebuilds)
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from omnichannel.platform import Platform

STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
# name, share of events (the steps first, at funnel-like decreasing rates)
NAMES = [
    ("Product Viewed", 0.20),
    ("Product Added", 0.06),
    ("Checkout Started", 0.03),
    ("Order Completed", 0.015),
    ("Page Viewed", 0.30),
    ("Content Viewed", 0.15),
    ("Products Searched", 0.10),
    ("Email Opened", 0.06),
    ("Signed Up", 0.005),
    ("Product Shared", 0.08),
]
DAYS = 90
T0 = "2026-01-01 00:00:00"


def _case_of_names() -> str:
    """A CASE mapping a uniform 0..9999 draw to an event name by the shares above."""
    parts, edge = [], 0
    for name, share in NAMES:
        edge += round(share * 10_000)
        parts.append(f"WHEN r < {edge} THEN '{name}'")
    return "CASE " + " ".join(parts) + " ELSE 'Page Viewed' END"


def generate(home: Path, events: int, people: int) -> None:
    with Platform.open(home) as platform, platform.warehouse.writer() as wh:
        con = wh.con.con  # the raw DuckDB connection: generating in SQL, no Python rows
        con.execute(
            f"""
            INSERT INTO events (message_id, type, event, user_id, timestamp, source, channel)
            SELECT 'm' || i, 'track', {_case_of_names()}, 'u' || (h % {people}),
                   TIMESTAMP '{T0}' + to_microseconds((h2 % ({DAYS} * 86400000000))::BIGINT),
                   'web', CASE WHEN h % 3 = 0 THEN 'app' ELSE 'web' END
            FROM (
                SELECT i, hash(i) AS h, hash(i + 7919) AS h2, hash(i * 31 + 1) % 10000 AS r
                FROM range({events}) t(i)
            )
            """
        )
        con.execute(
            f"""
            INSERT INTO profile_identifiers (profile_id, id_type, id_value, status, records)
            SELECT 'p_' || i, 'user_id', 'u' || i, 'linked', 1 FROM range({people}) t(i)
            """
        )
        con.execute("CHECKPOINT")


# The person as the product resolves it (identity rules' defaults): the profile holding
# the event's user id (typed per source), else the one holding its anonymous id.
RESOLVED = """
WITH ids AS (
    SELECT id_type, id_value, min(profile_id) AS profile_id FROM profile_identifiers
    WHERE status = 'linked' GROUP BY id_type, id_value
),
ev AS (
    SELECT coalesce(u.profile_id, a.profile_id, 'user_id:' || e.user_id,
                    'anonymous_id:' || e.anonymous_id) AS person,
           e.event, e.timestamp AS ts
    FROM events e
    LEFT JOIN ids u ON u.id_value = e.user_id AND u.id_type =
        CASE WHEN e.source IN ('tmall', 'jd') THEN 'marketplace_buyer_id' ELSE 'user_id' END
    LEFT JOIN ids a ON a.id_value = e.anonymous_id AND a.id_type =
        CASE WHEN e.source = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END
),"""
# What an analyst writes knowing only user ids: one join on the user id.
USER_ONLY = """
WITH ids AS (
    SELECT id_value, min(profile_id) AS profile_id FROM profile_identifiers
    WHERE status = 'linked' AND id_type = 'user_id' GROUP BY id_value
),
ev AS (
    SELECT coalesce(ids.profile_id, 'user_id:' || e.user_id) AS person, e.event,
           e.timestamp AS ts
    FROM events e LEFT JOIN ids ON ids.id_value = e.user_id
),"""
SELF_JOINS = """
s1 AS (SELECT person, min(ts) AS t1 FROM ev WHERE event = '{}' GROUP BY person),
s2 AS (
    SELECT s1.person, s1.t1, min(ev.ts) AS t2 FROM s1 JOIN ev ON ev.person = s1.person
    WHERE ev.event = '{}' AND ev.ts >= s1.t1 AND ev.ts <= s1.t1 + INTERVAL 7 DAY
    GROUP BY s1.person, s1.t1
),
s3 AS (
    SELECT s2.person, s2.t1, min(ev.ts) AS t3 FROM s2 JOIN ev ON ev.person = s2.person
    WHERE ev.event = '{}' AND ev.ts >= s2.t2 AND ev.ts <= s2.t1 + INTERVAL 7 DAY
    GROUP BY s2.person, s2.t1
),
s4 AS (
    SELECT s3.person FROM s3 JOIN ev ON ev.person = s3.person
    WHERE ev.event = '{}' AND ev.ts >= s3.t3 AND ev.ts <= s3.t1 + INTERVAL 7 DAY
    GROUP BY s3.person
)
SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), (SELECT count(*) FROM s3),
       (SELECT count(*) FROM s4)
""".format(*STEPS)
BASELINES = {"naive, same person resolution": RESOLVED, "naive, user ids only": USER_ONLY}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--people", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--home", type=Path, default=Path("/tmp/funnel-bench"))
    parser.add_argument("--fresh", action="store_true", help="Rebuild the data.")
    args = parser.parse_args()
    home = args.home / f"e{args.events}-p{args.people}"
    if args.fresh and home.exists():
        shutil.rmtree(home)
    if not (home / "omni.duckdb").exists():
        started = time.perf_counter()
        generate(home, args.events, args.people)
        print(f"generated {args.events:,} events of {args.people:,} people in "
              f"{time.perf_counter() - started:.1f} s ({home})")  # fmt: skip
    doc = {"steps": STEPS, "window": "7d"}
    best = dict.fromkeys(["ours", *BASELINES], float("inf"))
    counts: dict[str, list[int]] = {}
    with Platform.open(home) as platform:
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = platform.funnels.run(doc)
            best["ours"] = min(best["ours"], time.perf_counter() - started)
            counts["ours"] = [s["entered"] for s in result["overall"]["steps"]]
            with platform.warehouse.reader() as wh:
                for name, head in BASELINES.items():
                    started = time.perf_counter()
                    row = wh.con.con.execute(head + SELF_JOINS).fetchone()
                    best[name] = min(best[name], time.perf_counter() - started)
                    counts[name] = [int(v) for v in row or ()]
    load = os.getloadavg()
    print(f"events {args.events:,}, people {args.people:,}, steps {len(STEPS)}, window 7d, "
          f"best of {args.repeat}")  # fmt: skip
    for name, seconds in best.items():
        print(f"{name:32s} {seconds:6.2f} s  counts {counts[name]}")
    for name in BASELINES:
        print(f"ratio ours / {name}: {best['ours'] / best[name]:.2f} (target < 1, never > 1.5)")
    same = all(c == counts["ours"] for c in counts.values())
    print(f"same counts: {same}")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if not same:
        raise SystemExit("the funnels disagree")


if __name__ == "__main__":
    main()
