"""Demo generation speed: events per second of ``run_demo`` against raw DuckDB SQL.

The baseline is the ceiling: DuckDB writing the same number of random, event-shaped
rows (UUID, names, ids, timestamps, JSON context and properties) straight from
``range(n)`` into a table, with no model behind the values.

    .venv/bin/python benchmarks/demo_generate.py --people 20000 --days 180 --seed 7
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from omnichannel.demo import DemoConfig, run_demo
from omnichannel.warehouse import Warehouse

BASELINE_SQL = """
CREATE TABLE events AS
SELECT
    uuid()::VARCHAR AS message_id,
    ['page', 'screen', 'track', 'identify'][1 + (i % 4)] AS type,
    ['Product Viewed', 'Content Viewed', 'Order Completed'][1 + (i % 3)] AS event,
    'u' || (random() * 20000)::INT AS user_id,
    uuid()::VARCHAR AS anonymous_id,
    TIMESTAMP '2026-01-01' + to_seconds((random() * 180 * 86400)::BIGINT) AS timestamp,
    ['web', 'app', 'wechat'][1 + (i % 3)] AS source,
    '{"ip":"' || (random() * 255)::INT || '.1.2.3","locale":"zh-CN","timezone":"Asia/Shanghai"}'
        AS context,
    '{"product_id":"PRD-' || lpad(((random() * 640)::INT)::VARCHAR, 5, '0') || '","price":'
        || round(random() * 500, 2) || '}' AS properties
FROM range($n) t(i)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    config = DemoConfig(seed=args.seed, people=args.people, days=args.days, start=date(2026, 1, 1))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        with Warehouse.open(f"duckdb:///{root / 'demo.duckdb'}") as wh:
            summary = run_demo(warehouse=wh, truth_dir=root / "truth", config=config)
        demo_seconds = time.perf_counter() - started
        events = summary.events

        con = duckdb.connect(str(root / "baseline.duckdb"))
        started = time.perf_counter()
        con.execute(BASELINE_SQL.replace("$n", str(events)))
        con.execute("CHECKPOINT")
        baseline_seconds = time.perf_counter() - started
        con.close()

    demo_rate = events / demo_seconds
    baseline_rate = events / baseline_seconds
    print(f"demo: {args.people} people, {args.days} days, seed {args.seed}")
    print(f"  events                     {events:>12,}")
    print(f"  orders / identifiers       {summary.orders:>12,} / {summary.identifiers:,}")
    print(f"  run_demo (all tables)      {demo_seconds:>12.1f} s  {demo_rate:>12,.0f} events/s")
    print(
        f"  raw DuckDB SQL baseline    {baseline_seconds:>12.1f} s  "
        f"{baseline_rate:>12,.0f} events/s"
    )
    print(f"  ratio demo / baseline      {demo_rate / baseline_rate:>12.2f}")


if __name__ == "__main__":
    main()
